"""The fault matrix: every provider call of a deployment, crossed with every fault a
provider can inject, each cell one real deployment through the DBOS workflow against the
loopback fakes.

Beyond the LLM deployment itself, rows cover a generated worker's image steps (the
registry credentials RunPod pulls with; the build and push run on an instant stand-in for
the engine, see `InstantImages`), and teardown of a ready deployment.

A cell's outcome is one of:

    retry       the fault was met and the call retried its way past it; the deployment is ready
    new key     a rejected key parked the deployment; after "resume" (what the chat sends once
                the user stores a new key) it went on and is ready
    fallback    planning met the fault and used the packaged GPU catalog instead; ready
    error       the deployment (or its plan) stopped with a message that says what to do next
    UNHANDLED   anything else: an exception escaped, the message had no next step, or an
                invariant broke (below)

and in every cell, whatever the outcome:

    no duplicate   at most one template and one endpoint carry the deployment's name
    no lost record every resource the provider holds under that name is in the record
    no bill        a deployment that stopped left no endpoint able to start a worker, or
                   its record says the endpoint may still run and how to stop it
    teardown       a teardown that reports success left nothing under the name; one that
                   failed left the record (not "torn_down") knowing every resource still
                   there, and running it again (its next step) removes everything

Faults are injected once (a transient fault: the common case) on one route, through the
fakes' `fail()`; "lost" is the nastiest one the fakes add here: the provider acts, and the
answer is lost on the way back.

`run_matrix()` is used by tests/faults/test_matrix.py (which fails on any UNHANDLED cell)
and by benchmarks/faults.py (which prints it).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from dbos import DBOS, DBOSConfig
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr

from tests.conftest import new_master_key
from tests.pipeline.fakes import DeployRunPodFake
from tools.clients._http import Retry
from tools.pipeline import api
from tools.pipeline.durable import DeploymentPipeline
from tools.pipeline.events import Failed, NeedsKey
from tools.pipeline.images import ImageService, OnLine
from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import PipelineServices, RegistryLogin, StaticRegistry, Timings
from tools.pipeline.workflow import CONTROL
from tools.publish.teardown import WebAppTeardown
from tools.simulator._base import FakeProvider
from tools.simulator._wire import DroppedConnection
from tools.simulator.all import FakeStack
from tools.simulator.github import DEFAULT_TOKEN as GITHUB_TOKEN
from tools.simulator.huggingface import DEFAULT_TOKEN
from tools.simulator.runpod import DEFAULT_KEY
from tools.simulator.vercel import DEFAULT_TOKEN as VERCEL_TOKEN
from vault import Settings, Vault
from vault.deployments import DeploymentView

__all__ = [
    "FAULTS",
    "STEPS",
    "Cell",
    "Fault",
    "Step",
    "lose_answers",
    "render",
    "run_matrix",
    "stack_for",
]

REPO = "kriptik-test/tiny-llama"
GENERATED_REPO = "kriptik-test/tiny-diffusion"
# Where a generated worker's image goes: never contacted (see InstantImages).
REGISTRY = StaticRegistry("127.0.0.1:9", "kriptik", "kriptik", SecretStr("registry-password"))
Scenario = Literal["llm", "generated", "teardown"]
Fault = int | Literal["timeout", "drop", "malformed", "lost"]
FAULTS: tuple[Fault, ...] = (401, 403, 404, 409, 422, 429, 500, 503, "timeout", "drop",
                             "malformed", "lost")  # fmt: skip
Outcome = Literal["retry", "new key", "fallback", "error", "UNHANDLED", "not reached"]
_NEXT_STEP = re.compile(
    r"\b(try again|retry|create (a|one)|paste|check|wait|deploy again|add|correct|accept|"
    r"choose|pick|use|look it up|request access|open|run `)",
    re.IGNORECASE,
)
_HTTP_TIMEOUT_S = 0.4


@dataclass(frozen=True)
class Step:
    """One provider call of a deployment: the workflow step it belongs to, and its route."""

    name: str
    fake: str
    route: str
    in_plan: bool = False
    # Reached only on the failure path: a persistent fault elsewhere that makes it run.
    trigger: tuple[str, str, int] | None = None
    # What each cell runs: a vLLM deployment, a generated worker (image, registry
    # credentials), or the teardown of a ready one.
    scenario: Scenario = "llm"


STEPS: tuple[Step, ...] = (
    Step("plan: model metadata", "huggingface", "GET /api/models/{repo}", in_plan=True),
    Step("plan: GPU prices", "runpod", "GET /v2/catalog/gpus", in_plan=True),
    Step("template: find", "runpod", "GET /v2/templates"),
    Step("template: create", "runpod", "POST /v2/templates"),
    Step("endpoint: find", "runpod", "GET /v2/serverless"),
    Step("endpoint: create", "runpod", "POST /v2/serverless"),
    Step("wait: workers", "runpod", "GET /v2/serverless/{id}/workers"),
    Step("smoke test: runsync", "runpod_jobs", "POST /v2/{endpoint_id}/runsync"),
    Step(
        "stop: scale to zero",
        "runpod",
        "PATCH /v2/serverless/{id}",
        trigger=("runpod_jobs", "POST /v2/{endpoint_id}/runsync", 422),
    ),
    Step("registry creds: find", "runpod", "GET /v2/registries", scenario="generated"),
    Step("registry creds: create", "runpod", "POST /v2/registries", scenario="generated"),
    Step("teardown: scale to zero", "runpod", "PATCH /v2/serverless/{id}", scenario="teardown"),
    Step("teardown: delete endpoint", "runpod", "DELETE /v2/serverless/{id}", scenario="teardown"),
    Step("teardown: delete template", "runpod", "DELETE /v2/templates/{id}", scenario="teardown"),
)


@dataclass
class Cell:
    step: Step
    fault: Fault
    outcome: Outcome
    detail: str = ""
    seconds: float = 0.0
    broken: list[str] = field(default_factory=list[str])

    @property
    def unhandled(self) -> bool:
        return self.outcome == "UNHANDLED"


class InFlight:
    """Counts the requests the fakes are still answering, so a cell starts only when the
    last one's deliberately slow answers are done (they would land in the next cell)."""

    def __init__(self, stack: FakeStack) -> None:
        self._busy = 0
        self._idle = threading.Condition()
        for fake in stack.fakes().values():
            fake._handle = self._wrap(fake)  # type: ignore[method-assign]

    def _wrap(self, fake: FakeProvider) -> Any:
        original = type(fake)._handle  # pyright: ignore[reportPrivateUsage]

        async def handle(request: Any) -> Any:
            with self._idle:
                self._busy += 1
            try:
                return await original(fake, request)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

        return handle

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout_s)


class InstantImages(ImageService):
    """The image steps of a generated worker without a Docker engine: nothing is in the
    registry yet, a build is one line, a push returns the digest of the ref. Real builds
    and pushes (minutes per cell) are tests/pipeline/test_docker_deploy.py's; the matrix
    covers the provider calls around them."""

    def __init__(self) -> None:
        super().__init__(docker_cli=Path("/nonexistent/docker"))

    async def unavailable(self) -> str | None:
        return None

    async def remote_digest(self, ref: str, login: RegistryLogin | None) -> str | None:
        return None

    async def build(
        self,
        context: Path,
        tag: str,
        *,
        hf_token: SecretStr | None,
        build_args: Mapping[str, str],
        on_line: OnLine,
    ) -> None:
        on_line(f"built {tag}")

    async def push(self, ref: str, login: RegistryLogin | None, *, on_line: OnLine) -> str:
        on_line(f"pushed {ref}")
        return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()

    async def remove_local(self, ref: str) -> bool:
        return False


class _LoopbackOnly(httpx.AsyncBaseTransport):
    """Loopback requests go out; any other host (the deployed web app's *.vercel.app, which
    the integration check opens) gets a local 503 and never leaves the machine."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in ("127.0.0.1", "localhost"):
            return await self.inner.handle_async_request(request)
        return httpx.Response(503, text="not served in the fault matrix", request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class MatrixEnv:
    stack: FakeStack
    services: PipelineServices
    user_id: str
    in_flight: InFlight
    pipe: DeploymentPipeline
    plans: dict[Scenario, DeploymentPlan] = field(default_factory=dict[Scenario, DeploymentPlan])


def stack_for() -> FakeStack:
    return FakeStack(runpod=DeployRunPodFake())


@asynccontextmanager
async def matrix_env(home: Path, stack: FakeStack) -> AsyncIterator[MatrixEnv]:
    """A vault with one user, and DBOS launched on services that point at `stack`.

    Retries keep the production policy but do not really sleep; HTTP calls time out
    after 0.4 s, so an injected slow answer (1.2 s) is a timeout; DBOS polls its SQLite
    system database every 20 ms (`_fast_polling`).
    """
    hf_constants.HF_HUB_OFFLINE = False
    settings = Settings(
        home=home, database_url=f"sqlite+aiosqlite:///{home / 'kriptik.db'}",
        master_key=SecretStr(new_master_key()), http_timeout_s=_HTTP_TIMEOUT_S,
        **stack.settings_fields(),
    )  # fmt: skip
    vault = await Vault.open(settings)
    user = await vault.users.create("faults", SecretStr("correct-horse-battery"))
    await vault.credentials.add(user.id, "runpod", SecretStr(DEFAULT_KEY))
    await vault.credentials.add(user.id, "huggingface", SecretStr(DEFAULT_TOKEN))
    await vault.credentials.add(user.id, "github", SecretStr(GITHUB_TOKEN))
    await vault.credentials.add(user.id, "vercel", SecretStr(VERCEL_TOKEN))
    # One user runs every cell: an admin's caps for them, not the defaults.
    await vault.limits.set_by_admin(user.id, max_live=10_000, max_workers=3)

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    async with httpx.AsyncClient(transport=_LoopbackOnly(), trust_env=False) as http:
        services = PipelineServices(
            settings=settings, vault=vault, http=http, images=InstantImages(), registry=REGISTRY,
            timings=Timings(poll_s=0.01, key_wait_s=30, smoke_wait_ms=5000, log_budget_s=1.0),
            retry=Retry(sleep=no_sleep, rng=random.Random(7)),
        )  # fmt: skip
        services.web = WebAppTeardown(vault=vault, settings=settings, http=http,
                                      retry=services.retry)  # fmt: skip
        launch_config = api.dbos_config
        api.dbos_config = _fast_polling(launch_config)
        try:
            pipe = await api.launch(services)
        finally:
            api.dbos_config = launch_config
        try:
            yield MatrixEnv(stack, services, user.id, InFlight(stack), pipe)
        finally:
            await api.shutdown(pipe)
            await vault.close()


def _fast_polling(config: Callable[..., DBOSConfig]) -> Callable[..., DBOSConfig]:
    """DBOS's config with SQLite's notification polling at 20 ms instead of 100 ms: a cell
    waits on several streams and messages, and the matrix runs hundreds of cells."""

    def fast(*args: Any, **kwargs: Any) -> DBOSConfig:
        return {**config(*args, **kwargs), "notification_listener_polling_interval_sec": 0.02}

    return fast


def lose_answers(fake: FakeProvider, route: str) -> Callable[[], None]:
    """Let the provider act on the next `route` request, then drop the answer."""
    original = fake._respond  # pyright: ignore[reportPrivateUsage]
    left = [1]

    async def respond(*args: Any) -> Any:
        response = await original(*args)
        if args[3].route == route and left[0] > 0:
            left[0] -= 1
            return DroppedConnection()
        return response

    fake._respond = respond  # type: ignore[method-assign]
    return lambda: fake.__dict__.pop("_respond", None)


def _inject(stack: FakeStack, step: Step, fault: Fault) -> Callable[[], bool]:
    """Inject `fault` once on the step's route; returns "was it met?"."""
    fake = stack.fakes()[step.fake]
    if fault == "lost":
        undo = lose_answers(fake, step.route)
        before = len(fake.calls_to(step.route))

        def met_lost() -> bool:
            undo()
            return len(fake.calls_to(step.route)) > before

        return met_lost
    if fault == "timeout":
        fake.fail(step.route, "slow", delay_s=_HTTP_TIMEOUT_S * 3)
    elif fault in ("drop", "malformed"):
        fake.fail(step.route, fault)
    else:
        fake.fail(step.route, fault, retry_after=1 if fault in (429, 503) else None)
    return lambda: not fake.faults.get(step.route)


def _clear(text: str) -> bool:
    """A message a person can act on: words, a next step, no traceback."""
    return bool(text.strip()) and "Traceback" not in text and bool(_NEXT_STEP.search(text))


def _invariants(stack: FakeStack, view: DeploymentView) -> list[str]:
    runpod = stack.runpod
    broken: list[str] = []
    templates = [t for t in runpod.state.templates.values() if t.get("name") == view.name]
    endpoints = [e for e in runpod.state.endpoints.values() if e.data.get("name") == view.name]
    registries = [r for r in runpod.state.registries.values() if r.get("name") == view.name]
    if len(templates) > 1 or len(endpoints) > 1 or len(registries) > 1:
        broken.append(f"duplicate: {len(templates)} templates, {len(endpoints)} endpoints, "
                      f"{len(registries)} registry credentials")  # fmt: skip
    if templates and templates[0].get("id") != view.template_id:
        broken.append("lost record: a template the record does not know")
    if endpoints and endpoints[0].data.get("id") != view.endpoint_id:
        broken.append("lost record: an endpoint the record does not know")
    if registries and registries[0].get("id") != view.registry_auth_id:
        broken.append("lost record: registry credentials the record does not know")
    # A failed teardown leaves the deployment as it was (its own rows check the next step).
    stopped = view.state not in ("ready", "torn_down", "tearing_down")
    if (
        stopped
        and any(e.data["workers"]["max"] > 0 for e in endpoints)
        and not (_warning(view) and view.workers_max > 0)
    ):
        broken.append("bill: a stopped deployment left an endpoint able to start workers")
    return broken


def _warning(view: DeploymentView) -> str:
    """The record's line saying the endpoint may still run, with how to stop it, if any:
    the one acceptable way for a stopped deployment to leave an endpoint up."""
    lines = (view.message or "").splitlines()
    line = next((x for x in lines if "may still be running" in x), "")
    return line if _clear(line) else ""


_REQUESTS: dict[Scenario, DeployRequest] = {
    "llm": DeployRequest(repo_id=REPO),
    "generated": DeployRequest(repo_id=GENERATED_REPO),
    "teardown": DeployRequest(repo_id=REPO),
}


async def _plan(env: MatrixEnv, step: Step) -> DeploymentPlan:
    """The step's plan: made afresh when planning is what the cell tests, else made once
    per scenario (with no fault injected yet where the scenario injects later)."""
    request = _REQUESTS[step.scenario]
    if step.in_plan:
        return await plan_deployment(env.services, env.user_id, request)
    if step.scenario not in env.plans:
        env.plans[step.scenario] = await plan_deployment(env.services, env.user_id, request)
    return env.plans[step.scenario]


async def _deploy(
    env: MatrixEnv, plan: DeploymentPlan, broken: list[str] | None = None
) -> tuple[str, DeploymentView, bool, str]:
    """Run one deployment to its end; (outcome, record, resumed after a new key, failure).
    Adds to `broken` when a NeedsKey event arrives before the record says `needs_key` (a
    new key resumes only the deployments whose record says so)."""
    view = await api.create_deployment(env.pipe, user_id=env.user_id, plan=plan)
    resumed, failure = False, ""
    async with asyncio.timeout(120):
        async for event in api.read_progress(view.id):
            if isinstance(event, NeedsKey):
                resumed = True  # the user stored a new key: the chat sends "resume"
                state = (await env.services.deployments.get(view.id, user_id=None)).state
                if state != "needs_key" and broken is not None:
                    broken.append(f"NeedsKey was announced while the record says {state}")
                await DBOS.send_async(view.id, "resume", topic=CONTROL)
            elif isinstance(event, Failed):
                failure = event.failure.text()
        outcome = await api.wait_deployment(view.id)
    return outcome, await env.services.deployments.get(view.id, user_id=None), resumed, failure


async def _teardown_cell(env: MatrixEnv, cell: Cell) -> None:
    """Deploy (no fault), then tear down with the fault injected; a failed teardown must
    be clear, leave a record that knows what is left, and succeed when run again."""
    outcome, view, _, failure = await _deploy(env, await _plan(env, cell.step))
    if outcome != "ready":
        cell.outcome, cell.detail = "UNHANDLED", f"the deployment to tear down failed: {failure}"
        return
    met = _inject(env.stack, cell.step, cell.fault)
    report = await api.teardown(env.pipe, env.user_id, view.id)
    view = await env.services.deployments.get(view.id, user_id=None)
    runpod = env.stack.runpod.state
    left = [t for t in runpod.templates.values() if t.get("name") == view.name] + [
        e.data for e in runpod.endpoints.values() if e.data.get("name") == view.name
    ]
    assert await asyncio.to_thread(env.in_flight.wait_idle), "a fake is still answering"
    cell.broken = _invariants(env.stack, view)
    if report.failure is None:
        if left or view.state != "torn_down":
            cell.broken.append(f"teardown said done, left {len(left)} resources, "
                               f"record {view.state}")  # fmt: skip
        cell.outcome = "retry" if met() else "not reached"
        return
    cell.outcome = "error" if _clear(report.text()) else "UNHANDLED"
    cell.outcome = cell.outcome if met() else "not reached"
    cell.detail = report.failure.text()
    if view.state == "torn_down":
        cell.broken.append("a failed teardown marked the record torn down")
    if left and "nothing left to remove" in report.text():
        cell.broken.append(f"a failed teardown says 'nothing left to remove' while {len(left)} "
                           "resources are left")  # fmt: skip
    again = await api.teardown(env.pipe, env.user_id, view.id)  # the user's next step
    view = await env.services.deployments.get(view.id, user_id=None)
    left = [t for t in runpod.templates.values() if t.get("name") == view.name] + [
        e.data for e in runpod.endpoints.values() if e.data.get("name") == view.name
    ]
    if again.failure is not None or left or view.state != "torn_down":
        cell.broken.append(f"teardown again did not finish: {again.text()!r}")


async def run_cell(env: MatrixEnv, step: Step, fault: Fault) -> Cell:
    assert await asyncio.to_thread(env.in_flight.wait_idle), "a fake is still answering"
    env.stack.reset()
    started = time.perf_counter()
    cell = Cell(step, fault, "UNHANDLED")
    try:
        if step.scenario == "teardown":
            await _teardown_cell(env, cell)
        else:
            await _deployment_cell(env, cell)
        if cell.broken:
            cell.outcome, cell.detail = "UNHANDLED", "; ".join(cell.broken)
    except Exception as err:
        cell.outcome, cell.detail = "UNHANDLED", f"{type(err).__name__}: {err}"
    finally:
        cell.seconds = time.perf_counter() - started
    return cell


async def _deployment_cell(env: MatrixEnv, cell: Cell) -> None:
    step, fault = cell.step, cell.fault
    if step.trigger is not None:
        fake, route, status = step.trigger
        env.stack.fakes()[fake].fail(route, status, times=None)
    met = _inject(env.stack, step, fault)
    try:
        plan = await _plan(env, step)
    except PlanError as err:
        cell.outcome, cell.detail = ("error" if _clear(str(err)) else "UNHANDLED"), str(err)
        return
    if step.in_plan and met() and step.fake == "runpod":
        cell.outcome = "fallback"  # priced from the packaged catalog; deploy it anyway
    order: list[str] = []
    outcome, view, resumed, failure = await _deploy(env, plan, order)
    # Every request the provider is still answering has acted already (a "slow" fault acts
    # at once), but wait for them anyway: what the checks see must not depend on timing.
    assert await asyncio.to_thread(env.in_flight.wait_idle), "a fake is still answering"
    cell.broken = order + _invariants(env.stack, view)
    if not met():
        cell.outcome = "not reached"
    elif outcome == "ready":
        if cell.outcome != "fallback":
            cell.outcome = "new key" if resumed else "retry"
    else:
        cell.outcome = "error" if _clear(failure) else "UNHANDLED"
        cell.detail = _warning(view) or failure


async def run_matrix(
    env: MatrixEnv,
    *,
    steps: tuple[Step, ...] = STEPS,
    faults: tuple[Fault, ...] = FAULTS,
    on_cell: Callable[[Cell], Awaitable[None] | None] | None = None,
) -> list[Cell]:
    cells: list[Cell] = []
    for step in steps:
        for fault in faults:
            cell = await run_cell(env, step, fault)
            cells.append(cell)
            if on_cell is not None and (pending := on_cell(cell)) is not None:
                await pending
    return cells


_SHORT: dict[str, str] = {"retry": "retry", "new key": "new key", "fallback": "fallback",
                          "error": "error", "UNHANDLED": "UNHANDLED", "not reached": "-"}  # fmt: skip


def render(cells: list[Cell]) -> str:
    """The matrix as a table, then one line per error cell (the message the user gets)."""
    faults = list(dict.fromkeys(c.fault for c in cells))
    steps = list(dict.fromkeys(c.step for c in cells))
    by = {(c.step, c.fault): c for c in cells}
    width = max(len(s.name) for s in steps)
    head = f"{'step':<{width}} | " + " | ".join(f"{f!s:>9}" for f in faults)
    lines = [head, "-" * len(head)]
    for step in steps:
        row = " | ".join(f"{_SHORT[by[step, f].outcome]:>9}" for f in faults)
        lines.append(f"{step.name:<{width}} | {row}")
    counts = {k: sum(c.outcome == k for c in cells) for k in _SHORT}
    lines += ["", "cells: " + ", ".join(f"{k} {n}" for k, n in counts.items() if n),
              f"wall time: {sum(c.seconds for c in cells):.1f} s for {len(cells)} deployments"]  # fmt: skip
    notes = [c for c in cells if c.outcome in ("error", "UNHANDLED")]
    if notes:
        lines += ["", "what the user is told (first line):"]
        for c in notes:
            first = (c.detail.strip().splitlines() or [""])[0][:150]
            lines.append(f"  {c.step.name} x {c.fault}: [{c.outcome}] {first}")
    return "\n".join(lines)
