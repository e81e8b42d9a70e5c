"""Teardown, as a durable workflow: stop the deployment's workflow, scale the endpoint to
zero, delete the endpoint, the template and the registry credentials, (if asked) the
pushed image, and the web app's Vercel project or Netlify site. Every delete is
idempotent, and resources are found by their recorded ids and again by name, so a
teardown re-run, or one racing a deployment that was still creating things, leaves
nothing behind. The GitHub repo is the user's code: it is kept, and the report says how
to delete it.

The steps are plain functions of the services; `DeploymentPipeline` (`durable`) runs
each as a named DBOS step, and its `teardown_workflow` runs `run_teardown`. The web half
is the services' `web` (`WebTeardown`), supplied by the composition root: this package
never imports the web publishers.
"""

from __future__ import annotations

from typing import Protocol

from dbos import DBOS, SetWorkflowID
from pydantic import BaseModel, ConfigDict

from tools.clients.registry import delete_manifest
from tools.pipeline import cost
from tools.pipeline.events import Failure
from tools.pipeline.services import PipelineServices
from tools.pipeline.steps import StepResult, guarded, load_plan
from tools.pipeline.target_plan import is_target_deployment, target_for, target_plan_for
from tools.pipeline.target_steps import RESOURCE_NOUN
from vault.deployments import DeploymentView
from vault.models import new_id


class TeardownSteps(Protocol):
    """The durable steps of a teardown, as `DeploymentPipeline` (`tools.pipeline.durable`)
    registers them with DBOS. A protocol, so this module never imports the one that runs it."""

    services: PipelineServices

    async def remove_runpod(self, deployment_id: str) -> StepResult: ...
    async def remove_image(self, deployment_id: str) -> StepResult: ...
    async def remove_web(self, deployment_id: str) -> StepResult: ...
    async def finish_teardown(self, deployment_id: str, failure: Failure | None) -> None: ...
    async def teardown_workflow(self, deployment_id: str, remove_image: bool) -> TeardownReport: ...


__all__ = [
    "TeardownReport",
    "finish_teardown",
    "remove_image",
    "remove_runpod",
    "remove_target",
    "remove_web",
    "run_teardown",
    "teardown_deployment",
]

_ACTIVE = {"PENDING", "ENQUEUED"}


class TeardownReport(BaseModel):
    """What teardown removed, and anything it could not."""

    model_config = ConfigDict(frozen=True)

    deployment_id: str
    removed: tuple[str, ...]
    notes: tuple[str, ...] = ()
    failure: Failure | None = None

    def text(self) -> str:
        if self.failure is None:
            done = ", ".join(self.removed) or "nothing left to remove"
            return "\n".join([f"Removed: {done}.", *self.notes])
        # Stopped part-way: never "nothing left", since something may still run and bill.
        done = ", ".join(self.removed) or "nothing yet"
        return "\n".join([
            f"Teardown stopped part-way. Removed so far: {done}.", *self.notes,
            self.failure.text(),
            "What is left is still recorded: fix the problem above, then run teardown again.",
        ])  # fmt: skip


async def remove_runpod(svc: PipelineServices, deployment_id: str) -> StepResult:
    """Scale to zero, then delete endpoint, template and registry credentials. A deploy
    target's deployment (Hugging Face, Cloud Run) has its endpoint or service removed by its
    target instead (`remove_target`), in this same step: a teardown's recorded steps stay
    the same whatever the target."""
    if is_target_deployment(await svc.deployments.get(deployment_id, user_id=None)):
        return await remove_target(svc, deployment_id)
    removed: list[str] = []  # outside the body: a failure part-way still reports these

    async def body() -> StepResult:
        view, _ = await load_plan(svc, deployment_id)
        runpod = await svc.runpod(view.user_id)
        mine = {view.name}
        for endpoint in await runpod.list_endpoints():
            if endpoint.id == view.endpoint_id or endpoint.name in mine:
                if endpoint.id == view.endpoint_id:
                    await cost.accrue(svc, deployment_id)  # its cost up to its deletion
                # RunPod deletes only an endpoint with no workers: scale to zero first.
                if await runpod.scale_to_zero(endpoint.id):
                    await runpod.delete_endpoint(endpoint.id)
                    removed.append(f"endpoint {endpoint.id}")
        for template in await runpod.list_templates():
            if (template.id == view.template_id or template.name in mine) and (
                await runpod.delete_template(template.id)
            ):
                removed.append(f"template {template.id}")
        for registry in await runpod.list_registries():
            if (registry.id == view.registry_auth_id or registry.name in mine) and (
                await runpod.delete_registry(registry.id)
            ):
                removed.append(f"registry credentials {registry.id}")
        await svc.deployments.update(deployment_id, workers_min=0, workers_max=0)
        return StepResult(values={"removed": removed})

    result = await guarded(svc, body)
    if result.failure is not None:
        return StepResult(values={"removed": removed}, failure=result.failure)
    return result


async def remove_target(svc: PipelineServices, deployment_id: str) -> StepResult:
    """Delete a deploy target's endpoint or service (`DeployTarget.teardown`: found by the
    name it has for the deployment id, so even one whose id was never recorded goes)."""

    async def body() -> StepResult:
        view, plan = await load_plan(svc, deployment_id)
        target = target_for(svc, plan)
        if view.endpoint_id is not None:
            await cost.accrue(svc, deployment_id)  # its cost up to its deletion
        if not await target.teardown(view.user_id, target_plan_for(view, plan)):
            noun = RESOURCE_NOUN.get(plan.target, "endpoint")
            return StepResult(failure=Failure(
                reason="provider",
                message=f"The {noun} {view.endpoint_id or ''} still exists after its delete.",
                suggestions=("Run the teardown again in a minute.",),
            ))  # fmt: skip
        # Listed once: a resource already deleted (by a failed deployment) is not news.
        listed = view.workers_max > 0 and view.endpoint_id is not None
        removed = [f"{RESOURCE_NOUN.get(plan.target, 'endpoint')} {view.endpoint_id}"]
        await svc.deployments.update(deployment_id, workers_min=0, workers_max=0)
        return StepResult(values={"removed": removed if listed else []})

    return await guarded(svc, body)


async def remove_image(svc: PipelineServices, deployment_id: str) -> StepResult:
    """Delete the pushed image from the registry and untag it on the engine. A Cloud Run
    image stays in Artifact Registry (its token handshake is all we speak to it), with a
    note saying how to delete it."""

    async def body() -> StepResult:
        view, _ = await load_plan(svc, deployment_id)
        if not view.image or not view.image_digest:
            return StepResult(values={"removed": [], "notes": []})
        if view.plan.get("target") == "cloudrun":
            note = (
                f"The image {view.image} stays in Artifact Registry: delete it with "
                f"`gcloud artifacts docker images delete {view.image} --delete-tags`."
            )
            return StepResult(values={"removed": [], "notes": [note]})
        login = await svc.registry.login(view.user_id) if svc.registry else None
        deleted, note = await delete_manifest(svc.http, view.image, view.image_digest, login)
        if svc.images is not None:
            await svc.images.remove_local(view.image)
        return StepResult(
            values={
                "removed": [f"image {view.image}"] if deleted else [],
                "notes": [] if deleted else [note],
            }
        )

    return await guarded(svc, body)


async def remove_web(svc: PipelineServices, deployment_id: str) -> StepResult:
    """Delete the web app's Vercel project or Netlify site; keep (and name) the repo."""

    async def body() -> StepResult:
        if svc.web is None:
            return StepResult(values={"removed": [], "notes": []})
        view, _ = await load_plan(svc, deployment_id)
        removed, notes = await svc.web.remove(view)
        return StepResult(values={"removed": removed, "notes": notes})

    return await guarded(svc, body)


async def finish_teardown(
    svc: PipelineServices, deployment_id: str, failure: Failure | None
) -> None:
    if failure is None:
        ended = svc.clock()
        await cost.close(svc, deployment_id, ended)  # nothing bills after; RunPod's bill
        await svc.deployments.update(
            deployment_id, state="torn_down", ended_at=ended, message="torn down"
        )
    else:
        await svc.deployments.update(deployment_id, message=failure.text())


async def run_teardown(pipe: TeardownSteps, deployment_id: str, with_image: bool) -> TeardownReport:
    """Remove everything a deployment created; see the module docstring."""
    removed: list[str] = []
    notes: list[str] = []
    steps = [pipe.remove_runpod, pipe.remove_image] if with_image else [pipe.remove_runpod]
    # RunPod twice: a deployment that was mid-create when teardown began may add one more
    # thing. The web app last (steps are only ever appended: a teardown recovered after an
    # upgrade replays the same steps in the same order).
    for step in [*steps, pipe.remove_runpod, pipe.remove_web]:
        result = await step(deployment_id)
        removed += result.values.get("removed", [])
        if result.failure is not None:
            await pipe.finish_teardown(deployment_id, result.failure)
            return TeardownReport(
                deployment_id=deployment_id,
                removed=tuple(removed),
                notes=tuple(notes),
                failure=result.failure,
            )
        notes += result.values.get("notes", [])
    await pipe.finish_teardown(deployment_id, None)
    return TeardownReport(deployment_id=deployment_id, removed=tuple(removed), notes=tuple(notes))


async def teardown_deployment(
    pipe: TeardownSteps, view: DeploymentView, *, with_image: bool = False
) -> TeardownReport:
    """Stop the deployment's workflow, then run the teardown workflow and wait for it.

    The record is marked `tearing_down` first: a deployment step that starts after that
    refuses to create its endpoint.
    """
    await pipe.services.deployments.update(view.id, state="tearing_down")
    status = await DBOS.get_workflow_status_async(view.id)
    if status is not None and status.status in _ACTIVE:
        await DBOS.cancel_workflow_async(view.id)
    # A fresh id per request: an earlier teardown that failed (a revoked key) can be retried.
    with SetWorkflowID(f"{view.id}:teardown:{new_id()}"):
        handle = await DBOS.start_workflow_async(pipe.teardown_workflow, view.id, with_image)
    return await handle.get_result()
