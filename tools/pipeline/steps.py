"""The deployment's steps before the endpoint: build, registry credentials, template, and
reads of the record. Each takes the services and ids, does one thing, records what it
created in the deployment record the moment it exists, and returns a picklable
`StepResult`; `tools.pipeline.durable` runs each as a named DBOS step.

Steps are idempotent: every create first looks for the resource by its name (which
carries the deployment id), so a step re-run after a crash finds what the first run made.
Expected failures come back as a `Failure` in the result rather than as exceptions, so
the workflow can decide (wait for a new key, scale to zero, explain) and DBOS records a
plain value.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Final, Literal

from dbos import DBOS
from pydantic import BaseModel, ConfigDict

from tools.artifacts.worker import render_worker, slug, vllm_env
from tools.clients.errors import (
    AuthError,
    BuildFailed,
    ProviderError,
    ProviderPermissionError,
)
from tools.clients.registry import RegistryLogin
from tools.clients.runpod_models import TemplateSpec
from tools.pipeline.artifact_registry import ArtifactRegistryAccess
from tools.pipeline.ecr_registry import EcrImages, EcrRepositories, ecr_tag
from tools.pipeline.events import PROGRESS, Failure, LogLine
from tools.pipeline.plan import DeploymentPlan
from tools.pipeline.services import PipelineServices, RegistryAccess
from vault import CredentialNotFound, redact
from vault.deployments import DeploymentState, DeploymentView

__all__ = [
    "StepResult",
    "build_image",
    "ensure_template",
    "guarded",
    "load_plan",
    "plan_of",
    "record",
    "register_registry",
    "set_state",
]

# Build output is streamed live, up to this many lines (pip alone can print thousands);
# a failure quotes the last lines whatever the cap.
_MAX_LOG_LINES: Final = 400


class StepResult(BaseModel):
    """What a step did: values to use next, or why it could not."""

    model_config = ConfigDict(frozen=True)

    values: dict[str, Any] = {}
    failure: Failure | None = None


# Display name (as errors carry it) -> the vault's provider id. The registry's push
# credentials are the GitHub key's, for GHCR.
_VAULT_NAME: Final = {"RunPod": "runpod", "Hugging Face": "huggingface", "GitHub": "github",
                      "Docker": "github", "Google Cloud": "gcp",
                      "Artifact Registry": "gcp"}  # fmt: skip


def _key_failure(provider: str, err: Exception) -> Failure:
    vault_name = _VAULT_NAME.get(provider, provider.lower())
    tip = (
        f"Paste a new {provider} key in the chat, or run `kriptik keys add {vault_name}`; "
        "the deployment then resumes."
    )
    if provider == "Docker":
        tip = ("Check the registry credentials: for GHCR, a GitHub key with write:packages "
               "(`kriptik keys add github`); the deployment then resumes.")  # fmt: skip
    return Failure(reason="auth", provider=provider, message=redact(str(err)), suggestions=(tip,))


def _missing_key_provider(err: CredentialNotFound) -> str:
    text = str(err)
    return next((name for name, key in _VAULT_NAME.items() if f"no {key} key" in text), "RunPod")


async def guarded(
    svc: PipelineServices,
    body: Callable[[], Awaitable[StepResult]],
    *,
    deployment_id: str | None = None,
) -> StepResult:
    """Run a step body, turning the errors users meet into a `Failure`.

    With `deployment_id` (a deployment step, whose workflow then waits for a new key), a
    rejected key is recorded as state `needs_key` here, inside the step, before the
    workflow announces it with `NeedsKey`: a crash between the two must not leave a record
    that says "waiting" while the chat asks for a key (a new key resumes only deployments
    whose record says `needs_key`)."""
    result = await _guard(body)
    if deployment_id is not None and result.failure is not None:
        if result.failure.reason == "auth":
            await svc.deployments.update(
                deployment_id, state="needs_key", message=result.failure.text()
            )
    return result


async def _guard(body: Callable[[], Awaitable[StepResult]]) -> StepResult:
    try:
        return await body()
    except CredentialNotFound as err:
        return StepResult(failure=_key_failure(_missing_key_provider(err), err))
    except AuthError as err:
        return StepResult(failure=_key_failure(err.provider, err))
    except ProviderPermissionError as err:
        return StepResult(failure=_key_failure(err.provider, err))
    except BuildFailed as err:
        return StepResult(failure=Failure(reason="build", message=str(err)))
    except ProviderError as err:
        return StepResult(failure=Failure(reason="provider", message=str(err)))


async def load_plan(
    svc: PipelineServices, deployment_id: str
) -> tuple[DeploymentView, DeploymentPlan]:
    """The record and its plan (a plain read; safe to repeat)."""
    view = await svc.deployments.get(deployment_id, user_id=None)
    return view, DeploymentPlan.model_validate(view.plan)


def _scope(user_id: str) -> str:
    return hashlib.sha256(f"kriptik-weights:{user_id}".encode()).hexdigest()[:16]


def _image_ref(host: str, namespace: str, view: DeploymentView, content_hash: str) -> str:
    # Tag = deployment id + content hash: a rebuild of the same files is the same tag.
    return f"{host}/{namespace}/kriptik-{slug(view.repo_id)}:{view.id}-{content_hash[:12]}"


async def build_image(svc: PipelineServices, deployment_id: str) -> StepResult:
    """Render the worker, then build and push it unless the registry has that tag already."""

    async def body() -> StepResult:
        view, plan = await load_plan(svc, deployment_id)
        images = svc.images
        # SageMaker's image goes to ECR through its target (`_destination`): no registry.
        registry = None if plan.target == "sagemaker" else _registry_for(svc, plan)
        if images is None or (plan.target != "sagemaker" and registry is None):
            why = "no Docker engine or registry is set up"
            return StepResult(failure=_no_engine(deployment_id, why))
        if why := await images.unavailable():
            return StepResult(failure=_no_engine(deployment_id, why))
        token = await svc.hf_token(view.user_id) if plan.needs_token else None
        files = render_worker(plan.worker, secret=token is not None)
        context = files.write(svc.settings.home / "builds" / deployment_id)
        ref, login = await _destination(svc, plan, view, files.content_hash, registry)
        digest = await images.remote_digest(ref, login)
        if digest is None:
            async with _streamed("build") as on_line:
                await images.build(
                    context,
                    ref,
                    hf_token=token,
                    on_line=on_line,
                    build_args={
                        "HF_ENDPOINT": svc.settings.huggingface_base_url,
                        "WEIGHTS_CACHE_SCOPE": _scope(view.user_id),
                    },
                )
            async with _streamed("push") as on_line:
                digest = await images.push(ref, login, on_line=on_line)
        await svc.deployments.update(deployment_id, image=ref, image_digest=digest)
        return StepResult(values={"image": ref, "digest": digest})

    return await guarded(svc, body, deployment_id=deployment_id)


async def _destination(
    svc: PipelineServices, plan: DeploymentPlan, view: DeploymentView, content_hash: str,
    registry: RegistryAccess | None,
) -> tuple[str, RegistryLogin | None]:  # fmt: skip
    """The image's ref and push login: the plan's `registry`, or, where it has none
    (SageMaker, which pulls from ECR in the endpoint's region only), KripTik's ECR
    repository there."""
    if registry is not None:
        ref = _image_ref(registry.host, await registry.namespace(view.user_id), view, content_hash)
        return ref, await registry.login(view.user_id)
    target = svc.targets.get("sagemaker")
    if not isinstance(target, EcrRepositories) or plan.target_gpu is None:
        raise BuildFailed(
            "This process has no Amazon SageMaker target to push the worker image with. "
            "Restart KripTik, then deploy again.",
            provider="AWS",
        )
    ecr = EcrImages(target, plan.target_gpu.region)
    return await ecr.image_ref(view.user_id, ecr_tag(slug(view.repo_id), view.id, content_hash))


def _registry_for(svc: PipelineServices, plan: DeploymentPlan) -> RegistryAccess | None:
    """Where the plan's image goes: Cloud Run's registry (Artifact Registry in the service's
    region) for a Cloud Run deployment, when this process has one; else the default."""
    if plan.target != "cloudrun" or svc.cloudrun_registry is None:
        return svc.registry
    registry = svc.cloudrun_registry
    if isinstance(registry, ArtifactRegistryAccess) and plan.target_gpu is not None:
        return registry.in_region(plan.target_gpu.region)
    return registry


@contextlib.asynccontextmanager
async def _streamed(source: Literal["build", "push"]) -> AsyncGenerator[Callable[[str], None]]:
    """A line callback, safe from any thread, whose lines reach the progress stream live."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def pump() -> None:
        sent = 0
        while (line := await queue.get()) is not None:
            if sent < _MAX_LOG_LINES:
                event = LogLine(source=source, line=line)
                await DBOS.write_stream_async(PROGRESS, event.model_dump())
                sent += 1

    task = asyncio.create_task(pump())
    try:

        def on_line(line: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, line)

        yield on_line
    finally:
        loop.call_soon_threadsafe(queue.put_nowait, None)
        await task


def _no_engine(deployment_id: str, why: str) -> Failure:
    return Failure(
        reason="no_engine",
        message=f"The worker image cannot be built here: {why}.",
        suggestions=(
            f"Build it on your own machine: `kriptik deployments artifacts {deployment_id}` "
            "writes the build context and prints the exact docker commands.",
            "Text-generation models that vLLM supports need no build at all (RunPod's "
            "prebuilt vLLM image).",
        ),
    )


async def register_registry(svc: PipelineServices, deployment_id: str) -> StepResult:
    """Give RunPod the registry credentials, so its workers can pull a private image."""

    async def body() -> StepResult:
        view, _ = await load_plan(svc, deployment_id)
        login = await svc.registry.login(view.user_id) if svc.registry else None
        if login is None:
            return StepResult(values={"registry_id": None})
        runpod = await svc.runpod(view.user_id)
        found = await runpod.ensure_registry(
            view.name, username=login.username, password=login.password
        )
        await svc.deployments.update(deployment_id, registry_auth_id=found.id)
        return StepResult(values={"registry_id": found.id})

    return await guarded(svc, body, deployment_id=deployment_id)


async def ensure_template(svc: PipelineServices, deployment_id: str) -> StepResult:
    """The template named after the deployment, created once."""

    async def body() -> StepResult:
        view, plan = await load_plan(svc, deployment_id)
        worker = plan.worker
        if worker.kind == "vllm":
            secret = svc.hf_secret_name if plan.needs_token else None
            image, env = worker.image or "", vllm_env(worker, hf_secret=secret)
        else:
            image, env = view.image or "", {}
        spec = TemplateSpec(
            name=view.name,
            image=image,
            env=env,
            disk_gb=worker.disk_gb,
            registry_id=view.registry_auth_id,
        )
        template = await (await svc.runpod(view.user_id)).ensure_template(spec)
        await svc.deployments.update(deployment_id, template_id=template.id, state="creating")
        return StepResult(values={"template_id": template.id})

    return await guarded(svc, body, deployment_id=deployment_id)


# Reads of the record are steps too (`durable`): on recovery the workflow must see what
# it saw then.
async def plan_of(svc: PipelineServices, deployment_id: str) -> DeploymentPlan:
    return (await load_plan(svc, deployment_id))[1]


async def record(svc: PipelineServices, deployment_id: str) -> DeploymentView:
    return (await load_plan(svc, deployment_id))[0]


async def set_state(
    svc: PipelineServices, deployment_id: str, state: DeploymentState, message: str
) -> None:
    await svc.deployments.update(deployment_id, state=state, message=message)
