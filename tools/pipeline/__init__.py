"""The durable GPU deployment pipeline (DBOS): Hugging Face model -> worker -> image ->
RunPod serverless endpoint -> ready and smoke-tested URL, and its teardown.

Entry points are in `api`; the after-ready extension point (the web app) in `stages`.
Names are imported on first use (PEP 562): reading a deployment record must not pay for
DBOS and the Docker SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

_HOME = {
    "PIPELINE_VERSION": "api",
    "DeploymentStatus": "api",
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
    "AfterReadyContext": "stages",
    "AfterReadyResult": "stages",
    "register_after_ready": "stages",
    "TeardownReport": "teardown_flow",
}
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


def __getattr__(name: str) -> object:
    if name not in _HOME:
        raise AttributeError(f"module 'tools.pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tools.pipeline.{_HOME[name]}"), name)
    globals()[name] = value
    return value
