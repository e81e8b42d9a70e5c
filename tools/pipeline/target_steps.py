"""The steps of a deployment on a deploy target beside RunPod (`tools.targets`: Hugging Face
Inference Endpoints, Google Cloud Run): create the endpoint or service, look at it once,
send the smoke test, and settle a failed one. Plain functions of the services, each doing
one short thing; `tools.pipeline.durable` runs each as a DBOS step named `kriptik.target.*`,
and `tools.pipeline.target_flow` strings them together.

Create is idempotent because the target names the resource for the deployment id: a step
re-run after a crash (before or after the provider acted) adopts what the first run made.
Errors come back as a `Failure`, as the RunPod steps' do (`steps.guarded`), with two
differences: a rejected or missing key names the target's own credential (the deployment
then waits for a new one), and a permission the key lacks (a quota, a role) ends the
deployment with the provider's message rather than asking for another key.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Final

from dbos import DBOS

from tools.clients.errors import (
    AuthError,
    GatedRepo,
    ProviderError,
    ProviderPermissionError,
    Timeout,
    Upstream,
)
from tools.pipeline import cost
from tools.pipeline.events import PROGRESS, Failure, WorkersSeen
from tools.pipeline.services import PipelineServices
from tools.pipeline.steps import StepResult, guarded, load_plan
from tools.pipeline.target_plan import TargetMissing, target_for, target_plan_for
from tools.targets.base import TARGET_CREDENTIALS, TargetEndpoint, TargetName
from vault import CredentialNotFound, redact
from vault.deployments import DeploymentView
from vault.models import utcnow

__all__ = ["RESOURCE_NOUN", "create", "finish_failed", "poll", "smoke_test"]

# How users name each target's credential (`TARGET_CREDENTIALS` gives the vault's id).
_KEY_OWNER: Final[dict[str, str]] = {
    "huggingface": "Hugging Face", "gcp": "Google Cloud", "aws": "AWS",
}  # fmt: skip
# What the remote resource is called, for messages and teardown reports.
RESOURCE_NOUN: Final[dict[str, str]] = {
    "huggingface": "Hugging Face endpoint",
    "cloudrun": "Cloud Run service",
    "sagemaker": "SageMaker endpoint",
}
_ENDED: Final = frozenset({"tearing_down", "torn_down", "cancelled"})


def _key_failure(target: TargetName, err: Exception) -> Failure:
    vault_name = TARGET_CREDENTIALS[target]
    display = _KEY_OWNER.get(vault_name, vault_name)
    what = {"gcp": "service-account JSON key", "aws": "role ARN or access key pair"}.get(
        vault_name, "key"
    )
    tip = (
        f"Paste a new {display} {what} in the chat, or run `kriptik keys add {vault_name}`; "
        "the deployment then resumes."
    )
    return Failure(reason="auth", provider=display, message=redact(str(err)), suggestions=(tip,))


async def _guarded(
    svc: PipelineServices, deployment_id: str, body: Callable[[], Awaitable[StepResult]]
) -> StepResult:
    """`steps.guarded`, with the target's credential named on a rejected or missing key
    (recorded as `needs_key` by `guarded`), and a quota or a missing role as a failure."""

    async def mapped() -> StepResult:
        try:
            return await body()
        except TargetMissing as err:
            return StepResult(failure=Failure(reason="provider", message=str(err)))
        except (AuthError, CredentialNotFound) as err:
            # The plan is read again only here: a step that succeeds reads it once.
            return StepResult(failure=_key_failure(await _target_of(svc, deployment_id), err))
        except GatedRepo:
            raise  # the Hugging Face token lacks access to the model: a new key, as RunPod's
        except ProviderPermissionError as err:
            return StepResult(failure=Failure(reason="provider", message=str(err)))

    return await guarded(svc, mapped, deployment_id=deployment_id)


async def _target_of(svc: PipelineServices, deployment_id: str) -> TargetName:
    return (await load_plan(svc, deployment_id))[1].target


async def create(svc: PipelineServices, deployment_id: str) -> StepResult:
    """Create the endpoint or service (or adopt the one named for this deployment), record
    its id and start counting its cost (unless teardown began)."""

    async def body() -> StepResult:
        view, plan = await load_plan(svc, deployment_id)
        if view.state in _ENDED:
            return StepResult(failure=Failure(reason="cancelled", message="Teardown began."))
        target = target_for(svc, plan)
        endpoint = await target.create(view.user_id, target_plan_for(view, plan))
        await svc.deployments.update(
            deployment_id, endpoint_id=endpoint.resource_id, state="waiting"
        )
        # It may bill from now until it is deleted (`tools.pipeline.cost`).
        await cost.start_accrual(svc, deployment_id, svc.clock())
        return StepResult(values={"endpoint_id": endpoint.resource_id, "state": endpoint.state})

    return await _guarded(svc, deployment_id, body)


async def poll(svc: PipelineServices, deployment_id: str) -> StepResult:
    """One look at the endpoint (the target's `wait_ready` with no time to wait): values
    `at`, `ready`, `url`, the target's progress `texts`, and `outage` (the provider failed
    to answer; None when it answered). Not ready yet is no failure; a failed endpoint is
    (the target has deleted it). Accrues its cost up to now."""

    async def body() -> StepResult:
        view, plan = await load_plan(svc, deployment_id)
        target, at = target_for(svc, plan), svc.clock()
        texts: list[str] = []

        async def progress(text: str) -> None:
            texts.append(text)

        url: str | None = None
        outage: str | None = None
        try:
            ready = await target.wait_ready(
                view.user_id, target_plan_for(view, plan), progress, timeout_s=0
            )
            url = ready.url
        except Timeout:
            pass  # still starting (or a read that timed out): the workflow waits on
        except Upstream as err:
            outage = str(err)
        if url is not None:
            await svc.deployments.update(deployment_id, urls={"base": url}, stage="ready")
        elif view.stage is None:
            await svc.deployments.update(deployment_id, stage="initializing")
        await cost.accrue(svc, deployment_id)
        values = {"at": at.isoformat(), "ready": url is not None, "url": url, "texts": texts,
                  "outage": outage}  # fmt: skip
        return StepResult(values=values)

    return await _guarded(svc, deployment_id, body)


async def smoke_test(svc: PipelineServices, deployment_id: str) -> StepResult:
    """One real request through the endpoint's URL, with the plan's test input."""

    async def body() -> StepResult:
        view, plan = await load_plan(svc, deployment_id)
        await svc.deployments.update(deployment_id, state="testing")
        target = target_for(svc, plan)
        endpoint = TargetEndpoint(
            target=plan.target, resource_id=view.endpoint_id or "",
            url=view.urls.get("base"), state="ready",
            region=plan.target_gpu.region if plan.target_gpu else None,
        )  # fmt: skip
        try:
            result = await target.smoke_test(
                view.user_id, endpoint, plan.test_input, progress=_progress_stream
            )
        except (AuthError, ProviderPermissionError):
            raise
        except ProviderError as err:
            noun = RESOURCE_NOUN.get(plan.target, "endpoint")
            return StepResult(
                failure=Failure(
                    reason="smoke_test",
                    message=f"The {noun} is up, but its test request failed: {redact(str(err))}",
                    suggestions=("Fix the input or the model, then deploy again.",),
                )
            )
        return StepResult(values={"output": json.dumps(result, default=str)[:500]})

    return await _guarded(svc, deployment_id, body)


async def _progress_stream(text: str) -> None:
    """A target's word during a step (a smoke test waiting for an endpoint to wake from
    zero), live on the deployment's progress stream."""
    event = WorkersSeen(stage="initializing", counts={}, elapsed_s=0.0, message=text)
    await DBOS.write_stream_async(PROGRESS, event.model_dump())


async def finish_failed(
    svc: PipelineServices, deployment_id: str, failure: Failure, *, stage: str | None = None
) -> Failure:
    """Settle a failed (or cancelled) target deployment. A target bills while its resource
    exists, so the resource is deleted here, whatever made the deployment fail (the target
    has already deleted a failed one; deleting again is a no-op). Returns the failure as
    recorded: when the delete failed, with a note that it may still run and how to stop it."""
    view, _ = await load_plan(svc, deployment_id)
    created = view.endpoint_id is not None or (
        stage == "creating_endpoint" and failure.reason != "auth"
    )
    removed = True
    if created:
        removed, failure = await _remove(svc, view, failure)
    state = "cancelled" if failure.reason == "cancelled" else "failed"
    ended = svc.clock()
    await svc.deployments.update(
        deployment_id, state=state, stage=view.stage or stage, message=failure.text(),
        ended_at=utcnow(), workers_min=0 if removed else view.workers_min,
        workers_max=0 if removed else view.workers_max,
    )  # fmt: skip
    if removed and view.endpoint_id is not None:
        await cost.close(svc, deployment_id, ended)  # nothing bills after the delete
    return failure


async def _remove(
    svc: PipelineServices, view: DeploymentView, failure: Failure
) -> tuple[bool, Failure]:
    """Delete the deployment's resource; (done, the failure with a note when it was not)."""
    plan = (await load_plan(svc, view.id))[1]
    noun = RESOURCE_NOUN.get(plan.target, "endpoint")
    try:
        if view.endpoint_id is not None:
            await cost.accrue(svc, view.id)  # its cost up to its deletion
        gone = await target_for(svc, plan).teardown(view.user_id, target_plan_for(view, plan))
        why = "" if gone else "it still exists after the delete"
    except (ProviderError, CredentialNotFound, TargetMissing) as err:
        gone, why = False, redact(str(err)).strip().splitlines()[0] if str(err).strip() else ""
    if gone:
        return True, failure
    note = (
        f"The {noun} {view.endpoint_id or ''} could not be deleted ({why or 'no reason given'}), "
        f"so it may still be running and billing. Stop it: run `kriptik deployments teardown "
        f"{view.id}` once your key works, or delete it in the provider's console."
    )
    return False, failure.model_copy(update={"suggestions": (*failure.suggestions, note)})
