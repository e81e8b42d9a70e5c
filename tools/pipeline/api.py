"""The pipeline's entry points for tools, the chat and the CLI.

    pipeline = await launch(services)                                 # at start-up
    plan = await plan_deployment(services, user_id, DeployRequest(repo_id=...))  # no spend
    view = await create_deployment(pipeline, user_id=..., plan=plan)  # after approval
    async for event in read_progress(view.id): ...                   # StageChanged, ...
    outcome = await wait_deployment(view.id)                         # "ready" | ...
    report = await teardown(pipeline, user_id, view.id)
    await shutdown(pipeline)                                          # at exit

`launch` configures DBOS, builds the process's `DeploymentPipeline` around the services and
starts DBOS (recovering deployments a crash interrupted). The functions that read or
message a running workflow by its id (`read_progress`, `wait_deployment`,
`cancel_deployment`) need no pipeline: DBOS finds the workflow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from dbos import DBOS, DBOSConfig, SetWorkflowID, WorkflowHandleAsync
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import make_url

from tools.artifacts.worker import resource_name
from tools.pipeline import cost, teardown_flow
from tools.pipeline.durable import DeploymentPipeline
from tools.pipeline.events import PROGRESS, ProgressEvent, parse_event
from tools.pipeline.lifetime import lifetime_id
from tools.pipeline.plan import DeploymentPlan
from tools.pipeline.services import PipelineServices
from tools.pipeline.takeover import InstanceWatch
from tools.pipeline.target_plan import is_target_deployment
from tools.pipeline.workflow import CONTROL, Outcome
from vault.db import is_sqlite, normalize_url
from vault.deployments import DeploymentView
from vault.files import create_private_file, dbos_sqlite, sqlite_file, tighten
from vault.instances import InstanceStore
from vault.models import new_id

__all__ = [
    "PIPELINE_VERSION",
    "DeploymentStatus",
    "adopt_orphans",
    "cancel_deployment",
    "create_deployment",
    "dbos_config",
    "deployment_status",
    "launch",
    "read_progress",
    "resume_after_new_key",
    "shutdown",
    "system_database_url",
    "teardown",
    "wait_deployment",
    "watch_unwatched",
]

# DBOS recovers a pending workflow only under the version that started it. Bump this
# deliberately when the order of the workflow's steps changes; never derive it from code.
# 2: the workflow and its steps became methods of `DeploymentPipeline` (a DBOS configured
# instance), so a workflow started by release 1 can only be recovered by release 1.
PIPELINE_VERSION = "kriptik-pipeline-2"
_ORPHAN_AFTER = timedelta(minutes=1)


def system_database_url(app_url: str) -> str:
    """DBOS's system database, on the app database's backend: a SQLite file beside the
    app's file, or the app's own PostgreSQL database (DBOS keeps to schema `dbos`)."""
    url = make_url(normalize_url(app_url))
    if is_sqlite(str(url)):
        database = sqlite_file(str(url))
        if database is None:
            raise ValueError("durable deployments need a file-backed SQLite database")
        return f"sqlite:///{dbos_sqlite(database)}"
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def dbos_config(app_url: str, *, executor_id: str = "local", traced: bool = False) -> DBOSConfig:
    """`traced`: DBOS makes a span of the workflow and of each step, on the global tracer
    provider (`Tracing.serve_dbos`); no OTLP endpoint of its own, ours exports them."""
    return {
        "name": "kriptik",
        "system_database_url": system_database_url(app_url),
        "application_version": PIPELINE_VERSION,
        "executor_id": executor_id,
        "log_level": "WARNING",
        # SQLite has no LISTEN/NOTIFY: progress readers and waits poll. A tenth of a second
        # keeps the chat's progress live at a negligible cost (PostgreSQL is notified).
        "notification_listener_polling_interval_sec": 0.1,
        "enable_otlp": traced,
    }


async def launch(services: PipelineServices, *, executor_id: str = "local") -> DeploymentPipeline:
    """Start DBOS with the process's pipeline over `services` (recovering interrupted
    deployments of this executor), and start any recorded deployment whose workflow never
    began. On PostgreSQL, when `executor_id` is the settings' `instance_id`, register this
    instance and start its heartbeat, which also takes over the deployments of instances
    silent past the timeout (`takeover`). Returns the pipeline; `shutdown` stops it."""
    dbos_log = logging.getLogger("dbos")
    if not dbos_log.handlers:
        # DBOS adds its own console handler only to a logger without one: with this, its
        # records propagate to the process's handlers (formatted and redacted like ours).
        dbos_log.addHandler(logging.NullHandler())
    if not any(isinstance(f, _NoLogExporterNotice) for f in dbos_log.filters):
        dbos_log.addFilter(_NoLogExporterNotice())
    app_url = services.settings.resolved_database_url
    engine_file = dbos_sqlite(database) if (database := sqlite_file(app_url)) else None
    if engine_file is not None:
        # Created 0600 before DBOS's SQLite opens it (it would be 0644 minus the umask);
        # its journal files take the file's mode, and are tightened once it has started.
        create_private_file(engine_file)
    if (watch := _instance_watch(services, executor_id)) is not None:
        await watch.register()  # a fresh epoch: peers do not take over a live instance
    tracing = services.tracing
    tracing.serve_dbos()  # before DBOS reads the global provider at its launch
    DBOS(config=dbos_config(app_url, executor_id=executor_id, traced=tracing.exporting))
    # Registered with DBOS between its configuration and its launch, so that recovery of
    # this executor's workflows finds it.
    pipeline = DeploymentPipeline(services)
    try:
        DBOS.launch()
    except BaseException:
        DBOS.destroy(workflow_completion_timeout_sec=0)
        tracing.release_dbos()
        pipeline.release()
        if watch is not None:
            await watch.stop()  # its connection
        raise
    if engine_file is not None:
        tighten(engine_file)
    await adopt_orphans(pipeline)
    await watch_unwatched(pipeline)
    if watch is not None:
        pipeline.instance_watch = watch
        watch.start()  # its first beat also looks for silent instances at once
    return pipeline


class _NoLogExporterNotice(logging.Filter):
    """DBOS's `enable_otlp` covers its logs as well as its spans, and warns at each launch
    that no OTLP log exporter is set: ours are not sent over OTLP (one JSON line each, to
    stderr, with the trace id), so the warning is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("OTLP is enabled but logger provider")


def _instance_watch(services: PipelineServices, executor_id: str) -> InstanceWatch | None:
    """This instance's heartbeat on the shared database, or None: one SQLite file serves
    one instance (docs/deploy.md), so it has no peers to watch; and a process under an
    executor id of its own (the CLI's `cli-<pid>`) is no instance of the service: it
    neither takes over nor is taken over (`kriptik deployments resume` continues its work)."""
    settings = services.settings
    if is_sqlite(settings.resolved_database_url) or executor_id != settings.instance_id:
        return None
    # Its own connection: a pool busy with the chat's work must not silence the heartbeat.
    return InstanceWatch(
        InstanceStore.own_connection(settings.resolved_database_url), instance_id=executor_id,
        interval_s=settings.heartbeat_interval_s, timeout_s=settings.instance_timeout_s,
    )  # fmt: skip


async def adopt_orphans(pipeline: DeploymentPipeline) -> list[str]:
    """Start the workflow of every unfinished deployment that has none: a crash between
    writing a record and starting its workflow leaves one. Records a minute old or less
    may be another process's, about to start their own. Returns the ids started."""
    services = pipeline.services
    settled = services.clock() - _ORPHAN_AFTER
    started: list[str] = []
    for view in await services.deployments.unfinished():
        if view.created_at < settled and await DBOS.get_workflow_status_async(view.id) is None:
            await pipeline.start_deployment(view.id)
            started.append(view.id)
    return started


async def watch_unwatched(pipeline: DeploymentPipeline) -> list[str]:
    """Start the lifetime workflow of every ready deployment that has none: one that was
    ready before lifetimes existed would otherwise run, and bill, until someone remembers
    it. Its first look gives it the operator's time-to-live and idle limit from now. The
    workflow id is the deployment's, so two instances starting it run it once. Returns the
    ids started."""
    started: list[str] = []
    for view in await pipeline.services.deployments.ready():
        if await DBOS.get_workflow_status_async(lifetime_id(view.id)) is None:
            with SetWorkflowID(lifetime_id(view.id)):
                await DBOS.start_workflow_async(pipeline.lifetime_workflow, view.id)
            started.append(view.id)
    return started


async def shutdown(pipeline: DeploymentPipeline) -> None:
    """Stop DBOS (pending deployments resume at the next `launch`, or on a peer once this
    instance has been silent past the timeout) and release `pipeline`."""
    if pipeline.instance_watch is not None:
        await pipeline.instance_watch.stop()
    DBOS.destroy(workflow_completion_timeout_sec=0)
    pipeline.services.tracing.release_dbos()
    pipeline.release()
    # DBOS made its executor this loop's default (for asyncio.to_thread) and has just shut it
    # down: give the loop a working one back for whatever runs after (other shutdown hooks).
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(thread_name_prefix="kriptik")
    )


async def create_deployment(
    pipeline: DeploymentPipeline,
    *,
    user_id: str,
    plan: DeploymentPlan,
    thread_id: str | None = None,
) -> DeploymentView:
    """Record the deployment (refused above the user's caps) and start its workflow.
    Call only after the user approved `plan.summary()`."""
    services = pipeline.services
    deployment_id = new_id()
    worker = plan.worker
    # The user's caps and per-deployment cap as they stand now (admin's or default, lowered
    # by their own): counts are checked as the row goes in; the dollar cap is recorded.
    limits = await services.limits(user_id)
    view = await services.deployments.create(
        user_id,
        caps=limits.caps,
        cost_cap_usd=limits.deployment_cap_usd,
        deployment_id=deployment_id,
        thread_id=thread_id,
        repo_id=worker.repo_id,
        revision=worker.revision,
        kind=worker.kind,
        name=resource_name(deployment_id, worker.repo_id),
        gpu_pools=[plan.pool],
        gpu_count=plan.gpu_count,
        workers_min=plan.workers_min,
        workers_max=plan.workers_max,
        idle_timeout_s=plan.idle_timeout_s,
        usd_per_second=plan.usd_per_second,
        ttl_s=plan.ttl_s or services.settings.endpoint_ttl_s,
        idle_limit_s=plan.idle_limit_s or services.settings.endpoint_idle_limit_s,
        plan=plan.model_dump(mode="json"),
    )
    await pipeline.start_deployment(deployment_id)
    return view


async def read_progress(deployment_id: str, *, offset: int = 0) -> AsyncIterator[ProgressEvent]:
    """The deployment's events from `offset` on, as they happen, until it ends."""
    async for raw in DBOS.read_stream_async(deployment_id, PROGRESS, offset=offset):
        yield parse_event(raw)


async def wait_deployment(deployment_id: str) -> Outcome:
    handle: WorkflowHandleAsync[Outcome] = await DBOS.retrieve_workflow_async(deployment_id)
    return await handle.get_result()


async def cancel_deployment(deployment_id: str) -> None:
    """Ask a deployment that waits for its workers (or for a key) to stop."""
    await DBOS.send_async(deployment_id, "cancel", topic=CONTROL)


async def resume_after_new_key(services: PipelineServices, user_id: str) -> list[str]:
    """Wake the user's deployments that wait for a new key; returns their ids."""
    waiting = [v for v in await services.deployments.list(user_id) if v.state == "needs_key"]
    for view in waiting:
        await DBOS.send_async(view.id, "resume", topic=CONTROL)
    return [view.id for view in waiting]


class DeploymentStatus(BaseModel):
    """A deployment's record, plus its workers right now (when RunPod answers)."""

    model_config = ConfigDict(frozen=True)

    deployment: DeploymentView
    workers: dict[str, int] | None = None
    running_usd_per_hour: float = 0.0
    note: str | None = None


async def deployment_status(
    services: PipelineServices, user_id: str, deployment_id: str
) -> DeploymentStatus:
    """The record (owner-checked) and a live look at the endpoint's workers (a read: it
    needs the services only, not a running pipeline)."""
    from tools.clients.errors import ProviderError

    view = await services.deployments.get(deployment_id, user_id=user_id)
    if view.endpoint_id is None or view.state == "torn_down":
        return DeploymentStatus(deployment=view)
    if is_target_deployment(view):
        return await _target_status(services, view)
    try:
        workers = await (await services.runpod(user_id)).workers(view.endpoint_id)
    except ProviderError as err:
        return DeploymentStatus(deployment=view, note=str(err))
    counts: dict[str, Any] = workers.summary.model_dump()
    billed = counts["running"] + counts["idle"]
    # What it has cost up to this look, beside RunPod's bill (`tools.pipeline.cost`).
    view = await cost.accrue_observed(services, view.id, workers, services.clock())
    view = await cost.reconcile(services, view)
    return DeploymentStatus(
        deployment=view, workers=counts, running_usd_per_hour=billed * view.usd_per_second * 3600
    )


async def _target_status(services: PipelineServices, view: DeploymentView) -> DeploymentStatus:
    """A deploy target's deployment: what it runs up now, as its target says (no worker
    counts: targets report none), and its cost counted up to this look."""
    rate = await cost.target_rate(services, view)
    if rate is None:
        note = ("Its running cost is unknown right now: the provider does not report how many "
                "instances run (or did not answer).")  # fmt: skip
        return DeploymentStatus(deployment=view, note=note)
    view = await cost.accrue_at_rate(services, view.id, rate, services.clock())
    return DeploymentStatus(deployment=view, running_usd_per_hour=rate)


async def teardown(
    pipeline: DeploymentPipeline, user_id: str, deployment_id: str, *, remove_image: bool = False
) -> teardown_flow.TeardownReport:
    """Remove everything the deployment created (owner-checked); see `teardown_flow`."""
    view = await pipeline.services.deployments.get(deployment_id, user_id=user_id)
    return await teardown_flow.teardown_deployment(pipeline, view, with_image=remove_image)
