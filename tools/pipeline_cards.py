"""The approval cards of the GPU tools, declared beside them (`tools.pipeline_tools`): what
`create_runpod_endpoint` and `teardown` will do and cost, computed by KripTik from the
coerced arguments and the live world (the user's GPU catalogue, the Hub), never from the
model's word. A deployment's card names its target (RunPod serverless, Hugging Face
Inference Endpoints or Google Cloud Run), the GPU offer, its price and where it comes from.

Each card holds what the approved call then runs, unchanged:
```
EndpointCard   the DeploymentPlan: revision pinned to its commit sha, pool, GPU count,
               workers, idle timeout, price per second, image, the host CUDA it needs
TeardownCard   the deployment, and the endpoint, template, image and web app it deletes
```
Where no pipeline runs in this process, the endpoint card is an estimate from the
catalogue alone; the tool then fails before anything is created (nothing could run it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from pydantic import ValidationError
from pydantic_ai import ToolFailed

from tools.budget import plan_budget
from tools.cards import Card, GpuTerms, unknown_card
from tools.clients.errors import AuthError, ProviderError
from tools.deps import Deps
from tools.onboarding import AskableProvider
from tools.pipeline.expiry import lifetime_sentence
from tools.pipeline.handle import PipelineUnavailable
from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import GhcrRegistry, PipelineServices
from tools.pipeline.target_pick import TARGET_TITLES, TargetKeyMissing, scale_to_zero_minutes
from tools.publish.teardown import web_teardown_plan
from tools.sizing import OFFLOAD_WORDS, pool_label
from tools.targets._sagemaker import duration_text, idle_before_zero_s
from tools.targets.base import TARGET_UNITS, TargetGpu
from vault import CredentialNotFound, VaultError

if TYPE_CHECKING:
    from tools.pipeline.durable import DeploymentPipeline

__all__ = [
    "EndpointCard", "TeardownCard", "endpoint_card", "key_next_step", "pipeline", "teardown_card",
]  # fmt: skip


class EndpointCard(Card):
    """A deployment's card; `plan` is what the workflow will carry out."""

    plan: DeploymentPlan


class TeardownCard(Card):
    """A teardown's card: the deployment, and whether its image goes too."""

    deployment_id: str
    remove_image: bool


async def pipeline(deps: Deps) -> DeploymentPipeline:
    """The turn's pipeline (`deps.pipeline`; a tool called while the app is still launching
    it waits for it)."""
    try:
        if deps.pipeline is None:
            raise PipelineUnavailable("no pipeline was handed to this turn")
        return await deps.pipeline.ready()
    except PipelineUnavailable:
        raise ToolFailed(
            "The deployment pipeline is not running in this process (it starts with "
            "`kriptik serve`). Nothing was created; tell the user deployments are unavailable."
        ) from None


def key_next_step(err: CredentialNotFound) -> str:
    """What the agent does about a missing key: ask for it in the chat where the chat can
    take it (`request_api_key`, naming the target's provider: a Hugging Face token, a
    Google Cloud service-account JSON), else tell the user the command that adds it."""
    if not isinstance(err, TargetKeyMissing):
        return "Ask for the key with request_api_key first."
    if err.provider not in get_args(AskableProvider):
        return "Tell the user how to add it (the message says); nothing was created."
    return f"Nothing was created. Ask for it: call request_api_key with provider '{err.provider}'."


def _facts(plan: DeploymentPlan) -> dict[str, str]:
    worker = plan.worker
    image = worker.image or f"built here from {worker.base_image}"
    return {
        "model": worker.repo_id, "revision": worker.revision, "worker": worker.kind,
        "GPU pool": f"{plan.gpu_count} x {plan.pool_name}", "workers": f"{plan.workers_min} to "
        f"{plan.workers_max}", "idle timeout": f"{plan.idle_timeout_s} s",
        "price": f"${plan.usd_per_hour:.4f}/h per running worker", "image": image,
        "host CUDA": f"{plan.min_cuda} or newer" if plan.min_cuda else "any",
    } | ({"offload": OFFLOAD_WORDS[plan.offload]} if plan.offload else {}) | (
        _lifetime(plan)
    )  # fmt: skip


def _lifetime(plan: DeploymentPlan) -> dict[str, str]:
    """How the endpoint stops by itself (`tools.pipeline.lifetime`), as the card states it."""
    if plan.ttl_s is None or plan.idle_limit_s is None or plan.warning_s is None:
        return {}
    # A deploy target's requests show only as the instances of one that scales to zero.
    seen = plan.target == "runpod" or plan.workers_min == 0
    return {
        "lifetime": lifetime_sentence(
            plan.ttl_s, plan.idle_limit_s, plan.warning_s, requests_seen=seen
        )
    }


async def endpoint_card(deps: Deps, args: dict[str, Any]) -> Card:
    """The card for a `create_runpod_endpoint` call: the full plan, priced live."""
    repo = str(args["repo_id"])
    target = str(args.get("target") or "runpod")
    if deps.pipeline is None or not deps.pipeline.available():
        if target != "runpod":  # another target's catalog is read through the pipeline
            why = f"deployments to {target} need the pipeline, which is not running here"
            return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", why)
        return await _estimate(deps, args)
    try:
        request = DeployRequest.model_validate({
            "repo_id": repo, "gpu": args["pool"], "workers_min": args["workers_min"],
            "workers_max": args["workers_max"], "target": target, "region": args.get("region"),
            "workflow_id": args.get("workflow_id"),
        })  # fmt: skip
        services = (await pipeline(deps)).services
        plan = await plan_deployment(services, deps.user_id, request)
        budget = await plan_budget(services, deps.user_id, plan)
    except CredentialNotFound as err:
        why = f"{err}; {key_next_step(err)}"
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", why)
    except (PlanError, ValidationError, VaultError, ToolFailed) as err:
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", err)
    # Another target's offer fixes its own GPU count; a RunPod pool must match choose_gpu's.
    if plan.target == "runpod" and plan.gpu_count != args["gpu_count"]:
        why = f"{plan.pool} needs gpu_count={plan.gpu_count} for {repo}"
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", why)
    if not budget.fits:  # over budget: nobody is asked; the model reads what would fit
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", budget.refusal())
    if plan.target_gpu is not None:
        return _target_card(args, plan, plan.target_gpu, budget.card_line())
    if plan.worker.needs_build and (why := await _registry_refusal(services, deps.user_id)):
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", why)
    creates = [
        f"a RunPod serverless endpoint on {plan.gpu_count} x {plan.pool_name}, "
        f"{plan.workers_min} to {plan.workers_max} workers, serving {repo} at revision "
        f"{plan.worker.revision}",
        "a RunPod template",
    ]
    if plan.worker.needs_build:
        creates[:0] = [_image_line(plan), "registry credentials at RunPod"]
    return EndpointCard(
        tool="create_runpod_endpoint", provider="RunPod", args=args,
        summary=f"Deploy {plan.worker.repo_id}",
        # The worst case against the budget is in the price, not a fact: it follows from
        # the facts, and what is left moves as other endpoints run (tools.budget).
        creates=creates, price=f"{plan.summary()} {budget.card_line()}",
        usd_per_hour=plan.usd_per_hour, gpu=_terms(plan, plan.pool), plan=plan,
        facts=_facts(plan),
    )  # fmt: skip


def _image_line(plan: DeploymentPlan) -> str:
    comfy = plan.worker.comfy
    if comfy is None:
        return "a worker image in your registry"
    gib = sum((m.source.size_bytes or 0) for m in comfy.models if m.source) / (1 << 30)
    nodes = ", ".join(f"{p.package_id}@{p.version}" for p in comfy.packages) or "none"
    return (
        f"a ComfyUI worker image in your registry, with {len(comfy.models)} model file(s) "
        f"({gib:.1f} GiB, downloaded from Hugging Face at build time) and custom nodes: {nodes}"
    )


def _terms(plan: DeploymentPlan, pool: str) -> GpuTerms:
    return GpuTerms(pool=pool, gpu_count=plan.gpu_count, workers_min=plan.workers_min,
                    workers_max=plan.workers_max, need_gib=plan.required_gib,
                    low_gib=plan.vram_low_gib, high_gib=plan.vram_high_gib,
                    pick=plan.gpu_pick)  # fmt: skip


def _target_card(
    args: dict[str, Any], plan: DeploymentPlan, offer: TargetGpu, budget_line: str
) -> EndpointCard:
    """The card of a plan on Hugging Face or Cloud Run: the target, its offer and the price
    per replica with where that price comes from; the budget and lifetime as for RunPod."""
    title, repo = TARGET_TITLES[plan.target], plan.worker.repo_id
    resource = {
        "cloudrun": "a Cloud Run service",
        "sagemaker": "a SageMaker real-time endpoint",
    }.get(plan.target, "an Inference Endpoint")
    creates = [
        f"{resource} on {offer.label}, {plan.workers_min} to {plan.workers_max} "
        f"{_target_unit(plan)['unit']}s, "
        f"serving {repo} at revision {plan.worker.revision}"
    ]
    if plan.target == "cloudrun":
        creates[:0] = ["a worker image built here, pushed to Artifact Registry in your project"]
    elif plan.target == "sagemaker" and plan.worker.needs_build:
        creates[:0] = ["a worker image built here, pushed to KripTik's ECR repository in your "
                       "AWS account (deleted at teardown)"]  # fmt: skip
    return EndpointCard(
        tool="create_runpod_endpoint", provider=title, args=args,
        summary=f"Deploy {repo} on {title}", creates=creates,
        price=f"{plan.summary()} {budget_line}", usd_per_hour=plan.usd_per_hour,
        gpu=_terms(plan, offer.label).model_copy(update=_target_unit(plan)), plan=plan,
        facts=_target_facts(plan, offer),
    )  # fmt: skip


# Cloud Run keeps an idle instance for up to 15 minutes before it scales to zero, and
# instance-based billing (which GPUs require) bills it all that time.
_CLOUD_RUN_IDLE_S = 900.0


def _target_unit(plan: DeploymentPlan) -> dict[str, Any]:
    """The GPU rows' unit and idle tail on a target (`GpuTerms.unit`, `idle_tail_s`)."""
    tail_s = {
        "huggingface": scale_to_zero_minutes(plan.idle_timeout_s) * 60.0,
        # An inference component at zero bills nothing once its idle time has passed; a
        # classic endpoint (instances always on) is never idle: it bills until teardown.
        "sagemaker": 0.0 if plan.workers_min else float(idle_before_zero_s(plan.idle_timeout_s)),
    }.get(plan.target, _CLOUD_RUN_IDLE_S)
    return {"unit": TARGET_UNITS[plan.target], "idle_tail_s": tail_s}


def _target_facts(plan: DeploymentPlan, offer: TargetGpu) -> dict[str, str]:
    worker, unit = plan.worker, _target_unit(plan)["unit"]
    if plan.target == "huggingface":
        image = f"Hugging Face's serving image for {worker.task}"
        idle = f"after {scale_to_zero_minutes(plan.idle_timeout_s)} min idle"
    elif plan.target == "sagemaker":
        idle_s = idle_before_zero_s(plan.idle_timeout_s)
        image = (
            f"{worker.kind} worker built here, pushed to ECR in your AWS account"
            if worker.needs_build
            else "Hugging Face's LLM serving container (TGI) for SageMaker"
        )
        idle = (
            "no: it bills every hour until torn down"
            if plan.workers_min
            else f"after {duration_text(idle_s)} without requests; "
            "the next request waits several minutes for an instance"
        )
    else:
        image, idle = f"{worker.kind} worker built here", "when idle (Cloud Run: within 15 min)"
    return {
        "model": worker.repo_id, "revision": worker.revision, "target": TARGET_TITLES[plan.target],
        "GPU": offer.label, "region": offer.region, "image": image,
        f"{unit}s": f"{plan.workers_min} to {plan.workers_max}",
        "scale to zero": idle if plan.workers_min == 0 or plan.target == "sagemaker"
        else f"no: {plan.workers_min} always on",
        "price": f"${offer.usd_per_hour:.4f}/h per running {unit}",
        "price source": offer.source,
    } | _lifetime(plan)  # fmt: skip


async def _registry_refusal(services: PipelineServices, user_id: str) -> str | None:
    """Why the worker image could not be pushed (GHCR without write:packages, or a GitHub
    connection that needs reconnecting), before the card is shown; None when it can."""
    if not isinstance(services.registry, GhcrRegistry):
        return None
    try:
        await services.registry.check(user_id)
    except (AuthError, CredentialNotFound) as err:
        return f"{err} Offer to reconnect: call request_api_key with provider 'github'."
    except ProviderError:
        return None  # GitHub did not answer: the build step checks again before pushing
    return None


async def _estimate(deps: Deps, args: dict[str, Any]) -> Card:
    """No pipeline runs here, so nothing can be planned in full: the card is priced from
    the user's catalogue (live prices with their key, else the packaged table)."""
    pool_id, count = str(args["pool"]), int(args["gpu_count"])
    low, high, repo = int(args["workers_min"]), int(args["workers_max"]), args["repo_id"]
    catalog = await deps.providers.gpu_catalog(deps.user_id)
    name = pool_label(pool_id, catalog)
    creates = [
        f"RunPod serverless endpoint for {repo} on {count} x {name}, {low} to {high} workers",
        "a RunPod template for its worker image",
    ]
    pool = catalog.pool(pool_id)
    summary = f"Create a RunPod endpoint for {repo}"
    if pool is None:
        return unknown_card("create_runpod_endpoint", args, summary, f"{pool_id} is not a "
                            "RunPod serverless pool")  # fmt: skip
    hourly = pool.flex_usd_per_s * count * 3600
    idle = (
        "nothing while idle (scales to zero)"
        if low == 0
        else f"${hourly * low:.2f}/h always on (about ${hourly * low * 730:,.0f}/month)"
    )
    terms = GpuTerms(pool=pool_id, gpu_count=count, workers_min=low, workers_max=high)
    facts = {"GPU pool": f"{count} x {name}", "workers": f"{low} to {high}",
             "price": f"${hourly:.4f}/h per running worker"}  # fmt: skip
    return Card(
        tool="create_runpod_endpoint", provider="RunPod", args=args, summary=summary,
        creates=creates,
        price=f"${hourly:.2f}/h per worker while it runs; {idle}", usd_per_hour=hourly,
        facts=facts, gpu=terms,
    )  # fmt: skip


async def teardown_card(deps: Deps, args: dict[str, Any]) -> Card:
    """The card for a `teardown` call: every resource it deletes, and what it keeps."""
    try:
        services = (await pipeline(deps)).services
        view = await services.deployments.find(deps.user_id, str(args["endpoint_id"]))
    except (VaultError, ToolFailed) as err:
        return unknown_card("teardown", args, "Tear down", err)
    remove_image = bool(args["remove_image"])
    image = f"{view.image}@{view.image_digest}" if view.image_digest else view.image
    deletes = [f"endpoint {view.endpoint_id}", f"template {view.template_id}"]
    if remove_image and image:
        deletes.append(f"image {image}")
    web = web_teardown_plan(view)  # the web app goes too; the repo stays
    facts = {
        "deployment": view.id, "endpoint": view.endpoint_id or "none",
        "template": view.template_id or "none",
        "image": (image or "none") if remove_image else "kept", "web app": "; ".join(web) or "none",
    }  # fmt: skip
    return TeardownCard(
        tool="teardown", provider="RunPod", args=args,
        summary=f"Tear down {view.repo_id} ({view.id})",
        creates=[f"deletes {d}" for d in deletes if "None" not in d] + web,
        price="free; stops all billing for this endpoint", usd_per_hour=0.0, facts=facts,
        deployment_id=view.id, remove_image=remove_image,
    )  # fmt: skip
