"""`DeploymentPipeline`: the durable pipeline of one process, holding its `PipelineServices`
and running the deployment, teardown and lifetime workflows and their named DBOS steps.

Why a DBOS configured instance: workflow inputs are stored ids, and a workflow recovered
after a crash must still reach the services. DBOS records the instance's class and
`config_name` with each workflow and, on recovery, hands the workflow the instance that
this process registered under that name; so the services travel with the object the
composition root built, and no module-level registry of ours holds them. Build the
instance after `DBOS(config=...)` and before `DBOS.launch()` (`api.launch` does), and
`release()` it once DBOS is destroyed, so that the next pipeline (a test's) may take the
name.

The methods below are thin: each step method runs one plain function of `steps`,
`endpoint_steps`, `target_steps` or `teardown_flow` with the services; the workflow methods
run `workflow.run_deployment` (which hands a deploy target's plan to
`target_flow.run_target_deployment`, through `run_target`) and `teardown_flow.run_teardown`.
Step and workflow names are those the pipeline has always recorded (an upgraded process
replays the same steps); the deploy targets' steps are new names (`kriptik.target.*`).
"""

from __future__ import annotations

from dbos import DBOS, DBOSConfiguredInstance, SetWorkflowID
from dbos._dbos import _get_or_create_dbos_registry  # pyright: ignore[reportPrivateUsage]
from dbos._registrations import _class_fqn  # pyright: ignore[reportPrivateUsage]

from tools.pipeline import endpoint_steps as es
from tools.pipeline import lifetime, steps, target_flow, teardown_flow, workflow
from tools.pipeline import target_steps as ts
from tools.pipeline.events import Failure
from tools.pipeline.flow_parts import stage_clock
from tools.pipeline.plan import DeploymentPlan
from tools.pipeline.services import PipelineServices
from tools.pipeline.steps import StepResult
from tools.pipeline.takeover import InstanceWatch
from tools.pipeline.teardown_flow import TeardownReport
from vault.deployments import DeploymentState, DeploymentView
from vault.logs import log_context

__all__ = ["DeploymentPipeline"]


@DBOS.dbos_class()
class DeploymentPipeline(DBOSConfiguredInstance):
    """The pipeline of this process: its services, its workflows and their steps.

    Args:
        services: What every step uses (keys come from its vault per call).
        name: The DBOS instance name recorded with each workflow; one per process.
    """

    def __init__(self, services: PipelineServices, *, name: str = "kriptik") -> None:
        self.services = services
        # This instance's heartbeat and takeovers (PostgreSQL), set and stopped by `api`.
        self.instance_watch: InstanceWatch | None = None
        super().__init__(name)

    def release(self) -> None:
        """Forget this instance in DBOS's registry (after `DBOS.destroy()`): DBOS keeps
        configured instances for the life of the process and refuses a second one under
        the same name, and `destroy(destroy_registry=True)` would drop every registered
        workflow and step as well. Only a process that builds a new pipeline (tests, a CLI
        command run twice) needs this."""
        registry = _get_or_create_dbos_registry()
        key = f"{_class_fqn(type(self))}/{self.config_name}"
        if registry.instance_info_map.get(key) is self:
            del registry.instance_info_map[key]

    async def start_deployment(self, deployment_id: str) -> None:
        """Start (or find the running) workflow of a recorded deployment. Idempotent."""
        with SetWorkflowID(deployment_id):
            await DBOS.start_workflow_async(self.deploy_workflow, deployment_id)

    # ---- workflows ------------------------------------------------------------------------
    # Each runs in its own task: every record its steps log carries the deployment's id.
    @DBOS.workflow(name="kriptik.deploy")
    async def deploy_workflow(self, deployment_id: str) -> workflow.Outcome:
        with log_context(deployment_id=deployment_id):
            clock = stage_clock()  # the stage durations, counted once the workflow ends
            outcome = await workflow.run_deployment(self, deployment_id)
        self.services.metrics.deployment_finished(outcome, clock.durations())
        return outcome

    @DBOS.workflow(name="kriptik.teardown")
    async def teardown_workflow(self, deployment_id: str, remove_image: bool) -> TeardownReport:
        with log_context(deployment_id=deployment_id):
            return await teardown_flow.run_teardown(self, deployment_id, remove_image)

    @DBOS.workflow(name="kriptik.lifetime")
    async def lifetime_workflow(self, deployment_id: str) -> lifetime.LifetimeOutcome:
        with log_context(deployment_id=deployment_id):
            return await lifetime.run_lifetime(self, deployment_id)

    # ---- deployment steps -----------------------------------------------------------------
    @DBOS.step(name="kriptik.plan_of")
    async def plan_of(self, deployment_id: str) -> DeploymentPlan:
        return await steps.plan_of(self.services, deployment_id)

    @DBOS.step(name="kriptik.record")
    async def record(self, deployment_id: str) -> DeploymentView:
        return await steps.record(self.services, deployment_id)

    @DBOS.step(name="kriptik.set_state")
    async def set_state(self, deployment_id: str, state: DeploymentState, message: str) -> None:
        await steps.set_state(self.services, deployment_id, state, message)

    @DBOS.step(name="kriptik.build_image")
    async def build_image(self, deployment_id: str) -> StepResult:
        return await steps.build_image(self.services, deployment_id)

    @DBOS.step(name="kriptik.register_registry")
    async def register_registry(self, deployment_id: str) -> StepResult:
        return await steps.register_registry(self.services, deployment_id)

    @DBOS.step(name="kriptik.ensure_template")
    async def ensure_template(self, deployment_id: str) -> StepResult:
        return await steps.ensure_template(self.services, deployment_id)

    @DBOS.step(name="kriptik.ensure_endpoint")
    async def ensure_endpoint(self, deployment_id: str) -> StepResult:
        return await es.ensure_endpoint(self.services, deployment_id)

    @DBOS.step(name="kriptik.poll_workers")
    async def poll_workers(
        self, deployment_id: str, since: str | None, read_logs: bool
    ) -> StepResult:
        return await es.poll_workers(self.services, deployment_id, since, read_logs)

    @DBOS.step(name="kriptik.smoke_test")
    async def smoke_test(self, deployment_id: str) -> StepResult:
        return await es.smoke_test(self.services, deployment_id)

    @DBOS.step(name="kriptik.finish")
    async def finish(
        self, deployment_id: str, failure: Failure | None, *, stage: str | None = None
    ) -> Failure | None:
        return await es.finish(self.services, deployment_id, failure, stage=stage)

    # ---- deploy-target steps (Hugging Face, Cloud Run), inside `kriptik.deploy` -------------
    async def run_target(self, deployment_id: str, plan: DeploymentPlan) -> workflow.Outcome:
        """The body of `kriptik.deploy` for a deploy target (plain code of that workflow)."""
        return await target_flow.run_target_deployment(self, deployment_id, plan)

    @DBOS.step(name="kriptik.target.create")
    async def target_create(self, deployment_id: str) -> StepResult:
        return await ts.create(self.services, deployment_id)

    @DBOS.step(name="kriptik.target.poll")
    async def target_poll(self, deployment_id: str) -> StepResult:
        return await ts.poll(self.services, deployment_id)

    @DBOS.step(name="kriptik.target.smoke_test")
    async def target_smoke_test(self, deployment_id: str) -> StepResult:
        return await ts.smoke_test(self.services, deployment_id)

    @DBOS.step(name="kriptik.target.finish")
    async def target_finish(
        self, deployment_id: str, failure: Failure, *, stage: str | None = None
    ) -> Failure:
        return await ts.finish_failed(self.services, deployment_id, failure, stage=stage)

    # ---- teardown steps -------------------------------------------------------------------
    @DBOS.step(name="kriptik.teardown.runpod")
    async def remove_runpod(self, deployment_id: str) -> StepResult:
        return await teardown_flow.remove_runpod(self.services, deployment_id)

    @DBOS.step(name="kriptik.teardown.image")
    async def remove_image(self, deployment_id: str) -> StepResult:
        return await teardown_flow.remove_image(self.services, deployment_id)

    @DBOS.step(name="kriptik.teardown.web")
    async def remove_web(self, deployment_id: str) -> StepResult:
        return await teardown_flow.remove_web(self.services, deployment_id)

    @DBOS.step(name="kriptik.teardown.finish")
    async def finish_teardown(self, deployment_id: str, failure: Failure | None) -> None:
        await teardown_flow.finish_teardown(self.services, deployment_id, failure)

    # ---- lifetime steps (time-to-live, idle limit) -------------------------------------------
    @DBOS.step(name="kriptik.lifetime.check")
    async def lifetime_check(self, deployment_id: str, seen: int | None) -> lifetime.LifetimeCheck:
        return await lifetime.check(self.services, deployment_id, seen)

    @DBOS.step(name="kriptik.lifetime.warn")
    async def lifetime_warn(self, deployment_id: str, deadline: str) -> None:
        await lifetime.warn(self.services, deployment_id, deadline)

    @DBOS.step(name="kriptik.lifetime.due")
    async def lifetime_due(self, deployment_id: str) -> str | None:
        return await lifetime.stop_if_due(self.services, deployment_id)

    @DBOS.step(name="kriptik.lifetime.record")
    async def lifetime_record(self, deployment_id: str, why: str, report: TeardownReport) -> None:
        await lifetime.record_teardown(self.services, deployment_id, why, report)
