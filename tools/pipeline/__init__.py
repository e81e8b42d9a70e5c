"""The durable GPU deployment pipeline (DBOS): Hugging Face model -> worker -> image ->
RunPod serverless endpoint -> ready and smoke-tested URL, and its teardown.

Entry points are in `api`; the after-ready extension point (the web app) in `stages`.
"""

from tools.pipeline.api import (
    PIPELINE_VERSION,
    DeploymentStatus,
    cancel_deployment,
    create_deployment,
    dbos_config,
    deployment_status,
    launch,
    read_progress,
    resume_after_new_key,
    shutdown,
    system_database_url,
    teardown,
    wait_deployment,
)
from tools.pipeline.events import (
    Completed,
    Failed,
    Failure,
    LogLine,
    NeedsKey,
    ProgressEvent,
    ResourceCreated,
    StageChanged,
    WorkersSeen,
)
from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
from tools.pipeline.reminders import Reminder, running_reminders
from tools.pipeline.services import (
    GhcrRegistry,
    PipelineServices,
    RegistryAccess,
    RegistryLogin,
    StaticRegistry,
    Timings,
)
from tools.pipeline.stages import AfterReadyContext, AfterReadyResult, register_after_ready
from tools.pipeline.teardown_flow import TeardownReport

__all__ = [
    "PIPELINE_VERSION",
    "AfterReadyContext",
    "AfterReadyResult",
    "Completed",
    "DeployRequest",
    "DeploymentPlan",
    "DeploymentStatus",
    "Failed",
    "Failure",
    "GhcrRegistry",
    "LogLine",
    "NeedsKey",
    "PipelineServices",
    "PlanError",
    "ProgressEvent",
    "RegistryAccess",
    "RegistryLogin",
    "Reminder",
    "ResourceCreated",
    "StageChanged",
    "StaticRegistry",
    "TeardownReport",
    "Timings",
    "WorkersSeen",
    "cancel_deployment",
    "create_deployment",
    "dbos_config",
    "deployment_status",
    "launch",
    "plan_deployment",
    "read_progress",
    "register_after_ready",
    "resume_after_new_key",
    "running_reminders",
    "shutdown",
    "system_database_url",
    "teardown",
    "wait_deployment",
]
