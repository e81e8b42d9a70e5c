"""A KripTik process that runs a Hugging Face, Cloud Run or SageMaker deployment and SIGKILLs itself at
a named moment, for tests/pipeline/test_target_crash.py. A fork server
(`tests.resilience.processes.serve_forks`), like `tests.pipeline.crash_child`, whose `Trap`
it uses; each request is one process start:

    {"mode": "start", "executor": EXECUTOR, "user_id": ID, "plan": PLAN_JSON, "kill": BOUNDARY}
    {"mode": "resume", "executor": EXECUTOR, "deployment_id": ID, "kill": BOUNDARY}

`start` launches DBOS with both targets (real clients, against the fakes the test serves),
records the approved plan and starts its deployment; `resume` launches DBOS under the same
executor id, which recovers the deployment. Boundaries, besides `record NAME` (DBOS has just
committed that step):
- `effect hf create before|after`: just before `HfApi.create_inference_endpoint` sends its
  request, or just after Hugging Face answered it (the endpoint exists; the step that
  called it has not returned, so DBOS never recorded it and recovery runs it again);
- `effect cloudrun create before|after`: the same around Cloud Run's `services.create`;
- `effect sagemaker create before|after`: the same around SageMaker's `CreateEndpoint`
  (the model and endpoint config exist before it).

Lines: `{"deployment_id"}`, `{"killed": BOUNDARY}` just before a kill, and at the end
`{"outcome", "stages", "resources", "last", "failure", "completed"}`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from dbos import DBOS
from dbos._dbos import _get_or_create_dbos_registry  # pyright: ignore[reportPrivateUsage]
from huggingface_hub import HfApi

from tests.pipeline.crash_child import Boundary, Trap, say
from tests.pipeline.target_deploys import artifact_registry, build_targets
from tests.resilience.processes import serve_forks
from tools.clients.cloudrun import CloudRunClient
from tools.clients.sagemaker import SageMakerClient
from tools.pipeline import api
from tools.pipeline.events import Completed, Failed, ResourceCreated, StageChanged
from tools.pipeline.plan import DeploymentPlan
from tools.pipeline.services import PipelineServices, Timings
from tools.simulator.images import SimulatedImages, SimulatedRegistry
from vault import Settings, Vault


def trap_provider_creates(trap: Trap) -> None:
    """Count (and maybe die at) the moments around each target's one create call."""
    hf_create = HfApi.create_inference_endpoint
    run_create = CloudRunClient.create_service
    sm_create = SageMakerClient.create_endpoint

    def hf(api: HfApi, *args: Any, **kwargs: Any) -> Any:
        trap.hit("effect", "hf create before")
        made = hf_create(api, *args, **kwargs)
        trap.hit("effect", "hf create after")
        return made

    async def cloudrun(client: CloudRunClient, *args: Any, **kwargs: Any) -> Any:
        trap.hit("effect", "cloudrun create before")
        made = await run_create(client, *args, **kwargs)
        trap.hit("effect", "cloudrun create after")
        return made

    async def sagemaker(client: SageMakerClient, *args: Any, **kwargs: Any) -> Any:
        trap.hit("effect", "sagemaker create before")
        made = await sm_create(client, *args, **kwargs)
        trap.hit("effect", "sagemaker create after")
        return made

    SageMakerClient.create_endpoint = sagemaker  # type: ignore[method-assign]
    HfApi.create_inference_endpoint = hf  # type: ignore[method-assign]
    CloudRunClient.create_service = cloudrun  # type: ignore[method-assign]


def _now() -> datetime:
    return datetime.now(UTC)


async def main(request: dict[str, Any]) -> None:
    spec = request.get("kill")
    trap = Trap(Boundary(spec[0], spec[1], spec[2]) if spec else None)
    trap.install()
    trap_provider_creates(trap)
    settings = Settings()
    vault = await Vault.open(settings)
    hooks = {"response": [trap.on_response]}
    async with httpx.AsyncClient(trust_env=False, event_hooks=hooks) as http:
        services = PipelineServices(
            settings=settings, vault=vault, http=http, timings=Timings(poll_s=0.02),
            images=SimulatedImages(SimulatedRegistry()), clock=_now,
        )  # fmt: skip
        services.targets = build_targets(http, settings, services.token)
        services.cloudrun_registry = artifact_registry(http, settings, services.token)
        pipe = await api.launch(services, executor_id=request["executor"])
        if request["mode"] == "start":
            plan = DeploymentPlan.model_validate(request["plan"])
            view = await api.create_deployment(pipe, user_id=request["user_id"], plan=plan)
            deployment_id = view.id
            say(deployment_id=deployment_id)
        else:
            deployment_id = request["deployment_id"]
        handle = await DBOS.retrieve_workflow_async(deployment_id)
        outcome = await handle.get_result(polling_interval_sec=0.05)
        events = [event async for event in api.read_progress(deployment_id)]
        last = events[-1] if events else None
        say(
            outcome=outcome,
            stages=[e.stage for e in events if isinstance(e, StageChanged)],
            resources=[[e.resource, e.id] for e in events if isinstance(e, ResourceCreated)],
            last=last and last.kind,
            failure=last.failure.text() if isinstance(last, Failed) else None,
            completed=sum(isinstance(e, Completed) for e in events),
        )
        await api.shutdown(pipe)
    await vault.close()


if __name__ == "__main__":
    # Recovery polls DBOS's internal queue once a second: more often, so restarts are quick.
    queue = _get_or_create_dbos_registry().get_internal_queue()
    queue._polling_interval_sec = 0.05  # pyright: ignore[reportPrivateUsage]
    serve_forks(main)
