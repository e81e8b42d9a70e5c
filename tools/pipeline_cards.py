"""The approval cards of the GPU tools, declared beside them (`tools.pipeline_tools`): what
`create_runpod_endpoint` and `teardown` will do and cost, computed by KripTik from the
coerced arguments and the live world (the user's GPU catalogue, the Hub), never from the
model's word.

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

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_ai import ToolFailed

from tools.budget import plan_budget
from tools.cards import Card, GpuTerms, unknown_card
from tools.clients.errors import AuthError, ProviderError
from tools.deps import Deps
from tools.pipeline.expiry import lifetime_sentence
from tools.pipeline.handle import PipelineUnavailable
from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import GhcrRegistry, PipelineServices
from tools.publish.teardown import web_teardown_plan
from tools.sizing import OFFLOAD_WORDS, pool_label
from vault import CredentialNotFound, VaultError

if TYPE_CHECKING:
    from tools.pipeline.durable import DeploymentPipeline

__all__ = ["EndpointCard", "TeardownCard", "endpoint_card", "pipeline", "teardown_card"]


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
    return {"lifetime": lifetime_sentence(plan.ttl_s, plan.idle_limit_s, plan.warning_s)}


async def endpoint_card(deps: Deps, args: dict[str, Any]) -> Card:
    """The card for a `create_runpod_endpoint` call: the full plan, priced live."""
    repo = str(args["repo_id"])
    if deps.pipeline is None or not deps.pipeline.available():
        return await _estimate(deps, args)
    try:
        request = DeployRequest(
            repo_id=repo, gpu=args["pool"], workers_min=args["workers_min"],
            workers_max=args["workers_max"],
        )  # fmt: skip
        services = (await pipeline(deps)).services
        plan = await plan_deployment(services, deps.user_id, request)
        budget = await plan_budget(services, deps.user_id, plan)
    except CredentialNotFound as err:
        why = f"{err}; ask for the key with request_api_key first"
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", why)
    except (PlanError, ValidationError, VaultError, ToolFailed) as err:
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", err)
    if plan.gpu_count != args["gpu_count"]:
        why = f"{plan.pool} needs gpu_count={plan.gpu_count} for {repo}"
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", why)
    if not budget.fits:  # over budget: nobody is asked; the model reads what would fit
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", budget.refusal())
    if plan.worker.needs_build and (why := await _registry_refusal(services, deps.user_id)):
        return unknown_card("create_runpod_endpoint", args, f"Deploy {repo}", why)
    creates = [
        f"a RunPod serverless endpoint on {plan.gpu_count} x {plan.pool_name}, "
        f"{plan.workers_min} to {plan.workers_max} workers, serving {repo} at revision "
        f"{plan.worker.revision}",
        "a RunPod template",
    ]
    if plan.worker.needs_build:
        creates[:0] = ["a worker image in your registry", "registry credentials at RunPod"]
    terms = GpuTerms(pool=plan.pool, gpu_count=plan.gpu_count, workers_min=plan.workers_min,
                     workers_max=plan.workers_max, need_gib=plan.required_gib,
                     low_gib=plan.vram_low_gib, high_gib=plan.vram_high_gib,
                     pick=plan.gpu_pick)  # fmt: skip
    return EndpointCard(
        tool="create_runpod_endpoint", provider="RunPod", args=args,
        summary=f"Deploy {plan.worker.repo_id}",
        # The worst case against the budget is in the price, not a fact: it follows from
        # the facts, and what is left moves as other endpoints run (tools.budget).
        creates=creates, price=f"{plan.summary()} {budget.card_line()}",
        usd_per_hour=plan.usd_per_hour, gpu=terms, plan=plan,
        facts=_facts(plan),
    )  # fmt: skip


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
