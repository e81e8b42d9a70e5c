"""A KripTik process that runs deployments and SIGKILLs itself at a named step boundary, for
the crash-resume tests. It is a fork server (`tests.resilience.processes.ForkServer`): the
app is imported once, and each request is one process start:

    {"mode": "start", "executor": EXECUTOR, "user_id": ID, "repo_id": REPO,
     "kill": BOUNDARY, "docker": {...} or null}
    {"mode": "resume", "executor": EXECUTOR, "deployment_id": ID, "kill": BOUNDARY,
     "adopt": true, "docker": ...}

`start` launches DBOS, plans, records and starts the deployment, then waits for it;
`resume` launches DBOS with the same executor id (DBOS recovers what that executor left)
and waits. Settings come from KRIPTIK_* in the environment, as in the app. One JSON line
per milestone: `{"deployment_id"}`, `{"effect": "build"|"push"}` for each image built or
pushed, `{"killed": BOUNDARY}` just before the kill, and at the end `{"outcome", "stages",
"resources", "last", "failure", "completed"}` read back from the progress stream.

A `Boundary` names the moment of the kill: the `nth` time this process passes it (a step
that a restarted process replays from its record counts as passed, but is never where it
dies, so a chain of kills can name each boundary once, in workflow order):
- `record NAME`: DBOS has just committed the output of step NAME;
- `effect PATTERN`: the provider has just answered a request matching "METHOD PATH" (it
  acted; the step has not returned, so DBOS never records it and recovery runs it again);
  `effect docker push` is the image push (a real registry, not an HTTP fake);
- `unstarted`: the record is written, the workflow never started (`adopt` then stands for
  the minute after which `launch` adopts such an orphan).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import httpx
from dbos import DBOS
from dbos._dbos import _get_or_create_dbos_registry  # pyright: ignore[reportPrivateUsage]
from dbos._sys_db import SystemDatabase  # pyright: ignore[reportPrivateUsage]
from pydantic import SecretStr

from tests.artifacts.worker_image import DOCKER_CLI, StubImageService
from tests.resilience.processes import serve_forks
from tools.pipeline import api
from tools.pipeline.durable import DeploymentPipeline
from tools.pipeline.events import Completed, Failed, ResourceCreated, StageChanged
from tools.pipeline.images import ImageService, OnLine
from tools.pipeline.plan import DeployRequest, plan_deployment
from tools.pipeline.services import PipelineServices, RegistryLogin, StaticRegistry, Timings
from vault import Settings, Vault

When = Literal["record", "effect", "unstarted"]


@dataclass(frozen=True)
class Boundary:
    """Where to die: after the `nth` match of `target` (see the module docstring)."""

    when: When
    target: str = ""
    nth: int = 1

    def __str__(self) -> str:
        text = f"{self.when} {self.target}".strip()
        return text if self.nth == 1 else f"{text} #{self.nth}"

    def spec(self) -> list[Any]:
        return [self.when, self.target, self.nth]


def record(step: str, nth: int = 1) -> Boundary:
    return Boundary("record", f"kriptik.{step}", nth)


def effect(pattern: str, nth: int = 1) -> Boundary:
    return Boundary("effect", pattern, nth)


UNSTARTED = Boundary("unstarted")


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class Trap:
    """Counts the moments that match the boundary, and kills this process at the nth."""

    def __init__(self, boundary: Boundary | None) -> None:
        self.boundary = boundary
        self.seen = 0

    def hit(self, when: When, name: str, *, replayed: bool = False) -> None:
        """A moment passed: die if it is the boundary's nth. A step replayed from its
        record counts (a restarted process passes it again) but is no place to die."""
        b = self.boundary
        if b is None or b.when != when or not fnmatchcase(name, b.target or name):
            return
        self.seen += 1
        if self.seen == b.nth and not replayed:
            say(killed=str(b))
            os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        """After DBOS commits a step's output; before a recorded deployment's workflow."""
        recorded = SystemDatabase.record_operation_result
        replay = SystemDatabase.check_operation_execution
        start = DeploymentPipeline.start_deployment

        def record_then_maybe_die(db: SystemDatabase, result: Any, **kwargs: Any) -> None:
            recorded(db, result, **kwargs)
            self.hit("record", result["function_name"])

        def count_replays(db: SystemDatabase, wf: str, fid: int, name: str, **kw: Any) -> Any:
            found = replay(db, wf, fid, name, **kw)
            if found is not None:
                self.hit("record", name, replayed=True)
            return found

        async def maybe_never_start(pipe: DeploymentPipeline, deployment_id: str) -> None:
            self.hit("unstarted", "")
            await start(pipe, deployment_id)

        SystemDatabase.record_operation_result = record_then_maybe_die  # type: ignore[method-assign]
        SystemDatabase.check_operation_execution = count_replays  # type: ignore[method-assign]
        DeploymentPipeline.start_deployment = maybe_never_start  # type: ignore[method-assign]

    async def on_response(self, response: httpx.Response) -> None:
        self.hit("effect", f"{response.request.method} {response.request.url.path}")


class TrappedImages(StubImageService):
    """The stub worker's builds and pushes, each announced; the trap may fire after a push."""

    def __init__(self, trap: Trap, docker: dict[str, str]) -> None:
        super().__init__(
            docker_cli=DOCKER_CLI, docker_host=docker["host"], base_image=docker["base_image"]
        )
        self.trap = trap

    async def build(self, context: Path, tag: str, **kwargs: Any) -> None:
        say(effect="build", ref=tag)
        await super().build(context, tag, **kwargs)

    async def push(self, ref: str, login: RegistryLogin | None, *, on_line: OnLine) -> str:
        digest = await super().push(ref, login, on_line=on_line)
        say(effect="push", ref=ref)
        self.trap.hit("effect", "docker push")
        return digest


def _docker(trap: Trap, docker: dict[str, str] | None) -> tuple[ImageService | None, Any]:
    """The engine and registry of a generated worker's build, when the test gives them."""
    if docker is None:
        return None, None
    registry = StaticRegistry(
        docker["registry"], "kriptik", docker["username"], SecretStr(docker["password"])
    )
    return TrappedImages(trap, docker), registry


def _now() -> datetime:
    return datetime.now(UTC)


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=2)  # past the orphan grace period


async def main(request: dict[str, Any]) -> None:
    spec = request.get("kill")
    trap = Trap(Boundary(spec[0], spec[1], spec[2]) if spec else None)
    trap.install()
    settings = Settings()
    vault = await Vault.open(settings)
    hooks = {"response": [trap.on_response]}
    async with httpx.AsyncClient(trust_env=False, event_hooks=hooks) as http:
        images, registry = _docker(trap, request.get("docker"))
        services = PipelineServices(
            settings=settings, vault=vault, http=http, timings=Timings(poll_s=0.02),
            images=images, registry=registry, clock=_later if request.get("adopt") else _now,
        )  # fmt: skip
        pipe = await api.launch(services, executor_id=request["executor"])
        if request["mode"] == "start":
            user_id = request["user_id"]
            deploy = DeployRequest(repo_id=request["repo_id"])
            plan = await plan_deployment(services, user_id, deploy)
            deployment_id = (await api.create_deployment(pipe, user_id=user_id, plan=plan)).id
            say(deployment_id=deployment_id)
        else:
            deployment_id = request["deployment_id"]
        handle = await DBOS.retrieve_workflow_async(deployment_id)  # `api.wait_deployment`,
        outcome = await handle.get_result(polling_interval_sec=0.05)  # polling more often
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
    # DBOS recovers a workflow by putting it on its internal queue, which it polls once a
    # second: poll it more often, so that each restart waits a twentieth of that.
    queue = _get_or_create_dbos_registry().get_internal_queue()
    queue._polling_interval_sec = 0.05  # pyright: ignore[reportPrivateUsage]
    serve_forks(main)
