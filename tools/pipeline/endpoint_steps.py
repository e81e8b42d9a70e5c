"""Steps on the endpoint itself: create it, watch its workers come up, send the smoke
test, and settle the record (ready, or failed and scaled to zero). Plain functions of the
services; `tools.pipeline.durable` runs each as a named DBOS step."""

from __future__ import annotations

import json
from typing import Final

from pydantic import BaseModel, ConfigDict

from tools.clients.errors import ProviderError
from tools.clients.runpod_models import EndpointSpec
from tools.pipeline import cost
from tools.pipeline.diagnose import classify_workers, diagnose_logs
from tools.pipeline.events import Failure, ReadinessStage
from tools.pipeline.services import PipelineServices
from tools.pipeline.steps import StepResult, guarded, load_plan
from vault import CredentialNotFound, redact
from vault.deployments import DeploymentView
from vault.models import utcnow

__all__ = ["STOP_URL", "Observation", "ensure_endpoint", "finish", "poll_workers", "smoke_test"]

# Where a user stops an endpoint by hand when KripTik could not.
STOP_URL: Final = "https://www.runpod.io/console/serverless"


class Observation(BaseModel):
    """One look at the endpoint's workers."""

    model_config = ConfigDict(frozen=True)

    at: str
    stage: ReadinessStage
    counts: dict[str, int]
    log_tail: tuple[str, ...] = ()
    failure: Failure | None = None


async def ensure_endpoint(svc: PipelineServices, deployment_id: str) -> StepResult:
    """The endpoint named after the deployment, created once (unless teardown began)."""

    async def body() -> StepResult:
        view, plan = await load_plan(svc, deployment_id)
        if view.state in {"tearing_down", "torn_down", "cancelled"}:
            return StepResult(failure=Failure(reason="cancelled", message="Teardown began."))
        spec = EndpointSpec(
            name=view.name,
            template_id=view.template_id or "",
            gpu_pools=(plan.pool,),
            gpu_count=plan.gpu_count,
            workers_min=plan.workers_min,
            workers_max=plan.workers_max,
            idle_timeout_s=plan.idle_timeout_s,
            flashboot="FLASHBOOT",
            timeout_ms=plan.timeout_ms,
            min_cuda_version=plan.min_cuda,
        )
        endpoint = await (await svc.runpod(view.user_id)).ensure_endpoint(spec)
        urls = dict(endpoint.request_urls)
        if plan.worker.kind == "vllm":
            base = svc.settings.runpod_jobs_base_url.rstrip("/")
            urls["openai"] = f"{base}/{endpoint.id}/openai/v1"
        await svc.deployments.update(
            deployment_id, endpoint_id=endpoint.id, urls=urls, state="waiting"
        )
        # It bills from now until it is deleted (`tools.pipeline.cost`).
        await cost.start_accrual(svc, deployment_id, svc.clock())
        return StepResult(values={"endpoint_id": endpoint.id, "urls": urls})

    return await guarded(svc, body, deployment_id=deployment_id)


async def poll_workers(
    svc: PipelineServices, deployment_id: str, since: str | None, read_logs: bool
) -> StepResult:
    """Look at the workers once (values: {"observation": ...}); accrue the cost of the
    billed ones up to now (`cost`); read a failing worker's logs (or all, when asked) and
    diagnose. `since`, the previous look, is unused: the record knows how far it counted
    (the workflow still passes it, as its recorded steps did)."""
    return await guarded(
        svc, lambda: _poll(svc, deployment_id, read_logs), deployment_id=deployment_id
    )


async def _poll(svc: PipelineServices, deployment_id: str, read_logs: bool) -> StepResult:
    view, plan = await load_plan(svc, deployment_id)
    at = svc.clock()
    runpod = await svc.runpod(view.user_id)
    workers = await runpod.workers(view.endpoint_id or "")
    stage = classify_workers(workers)
    counts = workers.summary.model_dump()
    await cost.accrue_observed(svc, deployment_id, workers, at)
    failure, tail = None, ()
    if stage == "unhealthy" or read_logs:
        worker = next((w for w in workers.workers if w.status == "UNHEALTHY"), None)
        worker = worker or next(iter(workers.workers), None)
        if worker is not None:
            lines = await runpod.worker_logs(
                view.endpoint_id or "", worker.id, budget_s=svc.timings.log_budget_s
            )
            tail = tuple(lines[-10:])
            failure = diagnose_logs(
                lines,
                repo_id=view.repo_id,
                pool=plan.pool,
                options=plan.options,
                max_model_len=plan.worker.max_model_len,
                image=view.image or plan.worker.image,
            )
    if stage != view.stage:
        await svc.deployments.update(deployment_id, stage=stage)
    observation = Observation(
        at=at.isoformat(), stage=stage, counts=counts, log_tail=tail, failure=failure
    )
    return StepResult(values={"observation": observation})


async def smoke_test(svc: PipelineServices, deployment_id: str) -> StepResult:
    """One job through the real queue (`runsync`), with the worker's own test input."""

    async def body() -> StepResult:
        view, plan = await load_plan(svc, deployment_id)
        await svc.deployments.update(deployment_id, state="testing")
        jobs = await svc.jobs(view.user_id)
        endpoint = view.endpoint_id or ""
        job = await jobs.run_sync(endpoint, plan.test_input, wait_ms=svc.timings.smoke_wait_ms)
        if not job.done:
            job = await jobs.wait_job(
                endpoint,
                job.id,
                poll_s=svc.timings.poll_s,
                timeout_s=svc.timings.smoke_wait_ms / 1000,
            )
        if job.status != "COMPLETED":
            return StepResult(
                failure=Failure(
                    reason="smoke_test",
                    message=f"The endpoint is up, but its test job ended {job.status}: "
                    f"{job.error or 'no error text'}",
                    suggestions=(
                        "Read the worker logs in the RunPod console, fix the input or "
                        "the handler, then deploy again.",
                    ),
                )
            )
        return StepResult(values={"output": json.dumps(job.output, default=str)[:500]})

    return await guarded(svc, body, deployment_id=deployment_id)


async def finish(
    svc: PipelineServices, deployment_id: str, failure: Failure | None, *,
    stage: str | None = None,
) -> Failure | None:  # fmt: skip
    """Settle the record. A failed deployment is scaled to zero workers first, so a
    half-working endpoint can never drain the balance; teardown removes the rest.

    Returns the failure as recorded: when RunPod refused to scale the endpoint to zero, the
    original failure stays, with a note that the endpoint may still run and how to stop it
    (the record then keeps its worker counts, so reminders still see the endpoint). A failed
    record names the `stage` it stopped at, unless watching the workers named one already."""
    view, _ = await load_plan(svc, deployment_id)
    if failure is None:
        await svc.deployments.update(
            deployment_id, state="ready", stage="ready", ready_at=utcnow(), message="ready"
        )
        return None
    stopped = True
    if view.endpoint_id:
        stopped, failure = await _stop(svc, view, failure)
    state = "cancelled" if failure.reason == "cancelled" else "failed"
    await svc.deployments.update(
        deployment_id,
        state=state,
        stage=view.stage or stage,
        message=failure.text(),
        ended_at=utcnow(),
        workers_min=0 if stopped else view.workers_min,
        workers_max=0 if view.endpoint_id and stopped else view.workers_max,
    )
    return failure


async def _stop(
    svc: PipelineServices, view: DeploymentView, failure: Failure
) -> tuple[bool, Failure]:
    """Scale the endpoint to zero; (done, the failure with a note when it was not)."""
    endpoint = view.endpoint_id or ""
    try:
        await (await svc.runpod(view.user_id)).scale_to_zero(endpoint)
    except (ProviderError, CredentialNotFound) as err:
        why = redact(str(err)).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        note = (
            f"The endpoint {endpoint} could not be scaled to zero ({why}), so it may still be "
            f"running and billing. Stop it: run `kriptik deployments teardown {view.id}` "
            "once your RunPod key works, or set its max workers to 0 in the RunPod console "
            f"({STOP_URL})."
        )
        return False, failure.model_copy(update={"suggestions": (*failure.suggestions, note)})
    return True, failure
