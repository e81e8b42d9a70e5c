"""The durable GPU deployment pipeline (DBOS): Hugging Face model -> worker -> image ->
RunPod serverless endpoint -> ready and smoke-tested URL, and its teardown.

Entry points are in `api` (each takes the process's `DeploymentPipeline`, which `launch`
returns); tools, the agent and the UI reach it through a `PipelineHandle`. Names are
imported on first use (PEP 562): reading a deployment record must not pay for DBOS and
the Docker SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lazy import lazy_exports

if TYPE_CHECKING:
    from tools.pipeline.api import (
        PIPELINE_VERSION,
        DeploymentStatus,
        adopt_orphans,
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
    from tools.pipeline.durable import DeploymentPipeline
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
    from tools.pipeline.handle import PipelineHandle, PipelineUnavailable
    from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
    from tools.pipeline.reminders import Reminder, running_reminders
    from tools.pipeline.services import (
        GhcrRegistry,
        PipelineServices,
        RegistryAccess,
        RegistryLogin,
        StaticRegistry,
        Timings,
        WebTeardown,
    )
    from tools.pipeline.teardown_flow import TeardownReport

_HOME = {
    "PIPELINE_VERSION": "api",
    "DeploymentStatus": "api",
    "adopt_orphans": "api",
    "DeploymentPipeline": "durable",
    "PipelineHandle": "handle",
    "PipelineUnavailable": "handle",
    "cancel_deployment": "api",
    "create_deployment": "api",
    "dbos_config": "api",
    "deployment_status": "api",
    "launch": "api",
    "read_progress": "api",
    "resume_after_new_key": "api",
    "shutdown": "api",
    "system_database_url": "api",
    "teardown": "api",
    "wait_deployment": "api",
    "Completed": "events",
    "Failed": "events",
    "Failure": "events",
    "LogLine": "events",
    "NeedsKey": "events",
    "ProgressEvent": "events",
    "ResourceCreated": "events",
    "StageChanged": "events",
    "WorkersSeen": "events",
    "DeploymentPlan": "plan",
    "DeployRequest": "plan",
    "PlanError": "plan",
    "plan_deployment": "plan",
    "Reminder": "reminders",
    "running_reminders": "reminders",
    "GhcrRegistry": "services",
    "PipelineServices": "services",
    "RegistryAccess": "services",
    "RegistryLogin": "services",
    "StaticRegistry": "services",
    "Timings": "services",
    "WebTeardown": "services",
    "TeardownReport": "teardown_flow",
}
__all__ = [
    "PIPELINE_VERSION",
    "Completed",
    "DeployRequest",
    "DeploymentPipeline",
    "DeploymentPlan",
    "DeploymentStatus",
    "Failed",
    "Failure",
    "GhcrRegistry",
    "LogLine",
    "NeedsKey",
    "PipelineHandle",
    "PipelineServices",
    "PipelineUnavailable",
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
    "WebTeardown",
    "WorkersSeen",
    "adopt_orphans",
    "cancel_deployment",
    "create_deployment",
    "dbos_config",
    "deployment_status",
    "launch",
    "plan_deployment",
    "read_progress",
    "resume_after_new_key",
    "running_reminders",
    "shutdown",
    "system_database_url",
    "teardown",
    "wait_deployment",
]


__getattr__ = lazy_exports(__name__, _HOME)
