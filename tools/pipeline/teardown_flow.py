"""Teardown, as a durable workflow: stop the deployment's workflow, scale the endpoint to
zero, delete the endpoint, the template and the registry credentials, (if asked) the
pushed image, and the web app's Vercel project or Netlify site. Every delete is
idempotent, and resources are found by their recorded ids and again by name, so a
teardown re-run, or one racing a deployment that was still creating things, leaves
nothing behind. The GitHub repo is the user's code: it is kept, and the report says how
to delete it (`tools.publish.teardown`).
"""

from __future__ import annotations

from dbos import DBOS, SetWorkflowID
from pydantic import BaseModel, ConfigDict

from tools.pipeline.events import Failure
from tools.pipeline.registry_api import delete_manifest
from tools.pipeline.services import current
from tools.pipeline.steps import StepResult, guarded, load_plan
from tools.publish.teardown import remove_web_app
from vault.deployments import DeploymentView
from vault.models import new_id, utcnow

__all__ = ["TeardownReport", "teardown_deployment", "teardown_workflow"]

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


@DBOS.step(name="kriptik.teardown.runpod")
async def _remove_runpod(deployment_id: str) -> StepResult:
    """Scale to zero, then delete endpoint, template and registry credentials."""

    removed: list[str] = []  # outside the body: a failure part-way still reports these

    async def body() -> StepResult:
        svc = current()
        view, _ = await load_plan(deployment_id)
        runpod = await svc.runpod(view.user_id)
        mine = {view.name}
        for endpoint in await runpod.list_endpoints():
            if endpoint.id == view.endpoint_id or endpoint.name in mine:
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

    result = await guarded(body)
    if result.failure is not None:
        return StepResult(values={"removed": removed}, failure=result.failure)
    return result


@DBOS.step(name="kriptik.teardown.image")
async def _remove_image(deployment_id: str) -> StepResult:
    """Delete the pushed image from the registry and untag it on the engine."""

    async def body() -> StepResult:
        svc = current()
        view, _ = await load_plan(deployment_id)
        if not view.image or not view.image_digest:
            return StepResult(values={"removed": [], "notes": []})
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

    return await guarded(body)


@DBOS.step(name="kriptik.teardown.web")
async def _remove_web(deployment_id: str) -> StepResult:
    """Delete the web app's Vercel project or Netlify site; keep (and name) the repo."""

    async def body() -> StepResult:
        svc = current()
        view, _ = await load_plan(deployment_id)
        removed, notes = await remove_web_app(
            view, vault=svc.vault, settings=svc.settings, http=svc.http, retry=svc.retry
        )
        return StepResult(values={"removed": removed, "notes": notes})

    return await guarded(body)


@DBOS.step(name="kriptik.teardown.finish")
async def _finish(deployment_id: str, failure: Failure | None) -> None:
    if failure is None:
        await current().deployments.update(
            deployment_id, state="torn_down", ended_at=utcnow(), message="torn down"
        )
    else:
        await current().deployments.update(deployment_id, message=failure.text())


@DBOS.workflow(name="kriptik.teardown")
async def teardown_workflow(deployment_id: str, remove_image: bool) -> TeardownReport:
    """Remove everything a deployment created; see the module docstring."""
    removed: list[str] = []
    notes: list[str] = []
    steps = [_remove_runpod, _remove_image] if remove_image else [_remove_runpod]
    # RunPod twice: a deployment that was mid-create when teardown began may add one more
    # thing. The web app last (steps are only ever appended: a teardown recovered after an
    # upgrade replays the same steps in the same order).
    for step in [*steps, _remove_runpod, _remove_web]:
        result = await step(deployment_id)
        removed += result.values.get("removed", [])
        if result.failure is not None:
            await _finish(deployment_id, result.failure)
            return TeardownReport(
                deployment_id=deployment_id,
                removed=tuple(removed),
                notes=tuple(notes),
                failure=result.failure,
            )
        notes += result.values.get("notes", [])
    await _finish(deployment_id, None)
    return TeardownReport(deployment_id=deployment_id, removed=tuple(removed), notes=tuple(notes))


async def teardown_deployment(
    view: DeploymentView, *, remove_image: bool = False
) -> TeardownReport:
    """Stop the deployment's workflow, then run the teardown workflow and wait for it.

    The record is marked `tearing_down` first: a deployment step that starts after that
    refuses to create its endpoint.
    """
    await current().deployments.update(view.id, state="tearing_down")
    status = await DBOS.get_workflow_status_async(view.id)
    if status is not None and status.status in _ACTIVE:
        await DBOS.cancel_workflow_async(view.id)
    # A fresh id per request: an earlier teardown that failed (a revoked key) can be retried.
    with SetWorkflowID(f"{view.id}:teardown:{new_id()}"):
        handle = await DBOS.start_workflow_async(teardown_workflow, view.id, remove_image)
    return await handle.get_result()
