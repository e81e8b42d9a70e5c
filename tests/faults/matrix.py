"""The fault matrix: every provider call of a deployment, crossed with every fault a
provider can inject, each cell one real deployment through the DBOS workflow against the
loopback fakes.

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
    no bill        a deployment that stopped left no endpoint able to start a worker

Faults are injected once (a transient fault: the common case) on one route, through the
fakes' `fail()`; "lost" is the nastiest one the fakes add here: the provider acts, and the
answer is lost on the way back.

`run_matrix()` is used by tests/faults/test_matrix.py (which fails on any UNHANDLED cell)
and by benchmarks/faults.py (which prints it).
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from dbos import DBOS
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr

from tests.conftest import new_master_key
from tests.fakes._base import FakeProvider
from tests.fakes._wire import DroppedConnection
from tests.fakes.all import FakeStack
from tests.fakes.huggingface import DEFAULT_TOKEN
from tests.fakes.runpod import DEFAULT_KEY
from tests.pipeline.fakes import DeployRunPodFake
from tools.clients._http import Retry
from tools.pipeline import api
from tools.pipeline.events import Failed, NeedsKey
from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import PipelineServices, Timings
from tools.pipeline.workflow import CONTROL
from vault import Settings, Vault
from vault.deployments import DeploymentCaps, DeploymentView

__all__ = ["FAULTS", "STEPS", "Cell", "Fault", "Step", "render", "run_matrix", "stack_for"]

REPO = "kriptik-test/tiny-llama"
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


@dataclass
class MatrixEnv:
    stack: FakeStack
    services: PipelineServices
    user_id: str
    in_flight: InFlight
    plan: DeploymentPlan | None = None


def stack_for() -> FakeStack:
    return FakeStack(runpod=DeployRunPodFake())


@asynccontextmanager
async def matrix_env(home: Path, stack: FakeStack) -> AsyncIterator[MatrixEnv]:
    """A vault with one user, and DBOS launched on services that point at `stack`.

    Retries keep the production policy but do not really sleep; HTTP calls time out
    after 0.4 s, so an injected slow answer (1.2 s) is a timeout.
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

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    async with httpx.AsyncClient(trust_env=False) as http:
        services = PipelineServices(
            settings=settings, vault=vault, http=http,
            caps=DeploymentCaps(max_live=10_000, max_workers=3),
            timings=Timings(poll_s=0.01, key_wait_s=30, smoke_wait_ms=5000, log_budget_s=1.0),
            retry=Retry(sleep=no_sleep, rng=random.Random(7)),
        )  # fmt: skip
        await api.launch(services)
        try:
            yield MatrixEnv(stack, services, user.id, InFlight(stack))
        finally:
            await api.shutdown()
            await vault.close()


def _lose_answers(fake: FakeProvider, route: str) -> Callable[[], None]:
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
        undo = _lose_answers(fake, step.route)
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


def _invariants(stack: FakeStack, view: DeploymentView, stopped: bool) -> list[str]:
    runpod = stack.runpod
    broken: list[str] = []
    templates = [t for t in runpod.state.templates.values() if t.get("name") == view.name]
    endpoints = [e for e in runpod.state.endpoints.values() if e.data.get("name") == view.name]
    if len(templates) > 1 or len(endpoints) > 1:
        broken.append(f"duplicate: {len(templates)} templates, {len(endpoints)} endpoints")
    if templates and templates[0].get("id") != view.template_id:
        broken.append("lost record: a template the record does not know")
    if endpoints and endpoints[0].data.get("id") != view.endpoint_id:
        broken.append("lost record: an endpoint the record does not know")
    if stopped and any(e.data["workers"]["max"] > 0 for e in endpoints):
        broken.append("bill: a stopped deployment left an endpoint able to start workers")
    return broken


async def _plan(env: MatrixEnv, step: Step) -> DeploymentPlan:
    if step.in_plan or env.plan is None:
        plan = await plan_deployment(env.services, env.user_id, DeployRequest(repo_id=REPO))
        if not step.in_plan:
            env.plan = plan
        return plan
    return env.plan


async def _deploy(env: MatrixEnv, plan: DeploymentPlan) -> tuple[str, DeploymentView, bool, str]:
    """Run one deployment to its end; (outcome, record, resumed after a new key, failure)."""
    view = await api.create_deployment(env.services, user_id=env.user_id, plan=plan)
    resumed, failure = False, ""
    async with asyncio.timeout(120):
        async for event in api.read_progress(view.id):
            if isinstance(event, NeedsKey):
                resumed = True  # the user stored a new key: the chat sends "resume"
                await DBOS.send_async(view.id, "resume", topic=CONTROL)
            elif isinstance(event, Failed):
                failure = event.failure.text()
        outcome = await api.wait_deployment(view.id)
    return outcome, await env.services.deployments.get(view.id, user_id=None), resumed, failure


async def run_cell(env: MatrixEnv, step: Step, fault: Fault) -> Cell:
    assert await asyncio.to_thread(env.in_flight.wait_idle), "a fake is still answering"
    env.stack.reset()
    if step.trigger is not None:
        fake, route, status = step.trigger
        env.stack.fakes()[fake].fail(route, status, times=None)
    met = _inject(env.stack, step, fault)
    started = time.perf_counter()
    cell = Cell(step, fault, "UNHANDLED")
    try:
        try:
            plan = await _plan(env, step)
        except PlanError as err:
            cell.outcome, cell.detail = ("error" if _clear(str(err)) else "UNHANDLED"), str(err)
            return cell
        if step.in_plan and met() and step.fake == "runpod":
            cell.outcome = "fallback"  # priced from the packaged catalog; deploy it anyway
        outcome, view, resumed, failure = await _deploy(env, plan)
        cell.broken = _invariants(env.stack, view, outcome != "ready")
        if step.trigger is not None and not met():
            cell.outcome = "not reached"
        elif outcome == "ready":
            if cell.outcome != "fallback":
                cell.outcome = "new key" if resumed else "retry" if met() else "not reached"
        else:
            cell.outcome = "error" if _clear(failure) else "UNHANDLED"
            cell.detail = failure
        if cell.broken:
            cell.outcome, cell.detail = "UNHANDLED", "; ".join(cell.broken)
    except Exception as err:
        cell.outcome, cell.detail = "UNHANDLED", f"{type(err).__name__}: {err}"
    finally:
        cell.seconds = time.perf_counter() - started
    return cell


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
