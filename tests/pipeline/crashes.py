"""The crash-resume harness: deployments run by `tests.pipeline.crash_child` processes that
SIGKILL themselves at planned step boundaries, restarted (DBOS recovery, same executor id)
until one ends; then the checks that every run ends complete with one of each resource.

Used by tests/pipeline/test_crash_resume.py (one kill per deployment, at every boundary)
and tests/resilience/test_crash_chain.py (one deployment killed at every boundary in turn).
The fakes run in the test process, so what they count survives the kills.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import SecretStr

from tests.artifacts import worker_image as wi
from tests.conftest import new_master_key
from tests.pipeline.crash_child import UNSTARTED, Boundary, effect, record
from tests.resilience.processes import ForkServer, Run, host_env
from tools.clients.registry import delete_manifest, split_ref
from tools.pipeline.images import ImageService
from tools.pipeline.services import RegistryLogin
from tools.simulator import github
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY
from vault import Settings, Vault
from vault.deployments import DeploymentStore, DeploymentView

LLM: Final = "kriptik-test/tiny-llama"  # RunPod's prebuilt vLLM image: no build
DIFFUSION: Final = "kriptik-test/tiny-diffusion"  # a generated worker: build and push

# Every step boundary of the prebuilt-image path, in workflow order (`effect`: the provider
# has acted, the step's output is not recorded; `record`: DBOS has just committed it).
ENDPOINT_BOUNDARIES: Final = (
    UNSTARTED,  # the record exists, its workflow never started (adopted after a minute)
    record("plan_of"),
    effect("POST */v2/templates"),
    record("ensure_template"),
    record("record"),
    effect("POST */v2/serverless"),
    record("ensure_endpoint"),
    record("poll_workers"),  # waiting for a worker
    effect("POST */runsync"),  # the smoke job ran
    record("smoke_test"),
    record("finish"),
    record("record", 2),
)
ENDPOINT_STAGES: Final = ["creating_template", "creating_endpoint", "waiting", "smoke_test"]

# The steps only the generated-worker path has: the image and the registry credentials.
IMAGE_BOUNDARIES: Final = (
    effect("docker push"),  # pushed; the step reruns and finds the tag in the registry
    record("build_image"),
    effect("POST */v2/registries"),
    record("register_registry"),
)
IMAGE_STAGES: Final = ["building", "registering", *ENDPOINT_STAGES]
SMOKE_JOB_RAN: Final = effect("POST */runsync")


@dataclass
class Deployed:
    """What the runs of one deployment said, and its record at the end."""

    view: DeploymentView
    kills: list[Boundary]
    runs: list[Run]
    final: dict[str, Any]

    def effects(self, kind: str) -> list[str]:
        return [
            line["ref"] for run in self.runs for line in run.lines if line.get("effect") == kind
        ]


@dataclass
class Crashes:
    """One app (its settings, database and fork server) against one set of fakes."""

    settings: Settings
    vault: Vault
    server: ForkServer
    stack: FakeStack
    env: dict[str, str]
    executors: itertools.count[int] = field(default_factory=itertools.count)

    async def new_user(self, *, github_key: bool = True) -> str:
        n = next(self.executors)
        user = await self.vault.users.create(f"crash{n}", SecretStr("correct-horse-battery"))
        await self.vault.credentials.add(user.id, "runpod", SecretStr(DEFAULT_KEY))
        if github_key:
            await self.vault.credentials.add(user.id, "github", SecretStr(github.DEFAULT_TOKEN))
        return user.id

    async def deploy(
        self,
        user_id: str,
        kills: Sequence[Boundary],
        *,
        repo_id: str = LLM,
        docker: dict[str, str] | None = None,
    ) -> Deployed:
        """Start a deployment; at each boundary of `kills` in turn, the process kills
        itself and the next one (same executor id) resumes; the last one runs to the end."""
        executor = f"crash-{next(self.executors)}"
        request: dict[str, Any] = {
            "mode": "start", "executor": executor, "user_id": user_id, "repo_id": repo_id,
            "docker": docker,
        }  # fmt: skip
        runs: list[Run] = []
        deployment_id: str | None = None
        for boundary in [*kills, None]:
            kill = boundary and boundary.spec()
            run = await self.server.run({**request, "kill": kill}, self.env)
            runs.append(run)
            if boundary is None:
                ok = run.exit == 0 and "outcome" in run.lines[-1]
                assert ok, await self.server.explain(run)
            else:
                killed = run.exit == -signal.SIGKILL and run.lines[-1:] == [
                    {"killed": str(boundary)}
                ]
                assert killed, f"no kill at {boundary}: " + await self.server.explain(run)
            if deployment_id is None:
                [view] = await DeploymentStore(self.vault.sessions).list(user_id)
                deployment_id = view.id
            request = {
                "mode": "resume", "executor": executor, "deployment_id": deployment_id,
                "docker": docker, "adopt": boundary == UNSTARTED,
            }  # fmt: skip
        assert deployment_id is not None
        view = await DeploymentStore(self.vault.sessions).get(deployment_id, user_id=user_id)
        return Deployed(view, list(kills), runs, runs[-1].lines[-1])

    def assert_one_of_each(self, deployed: Deployed, stages: Sequence[str]) -> None:
        """Ready; one template and one endpoint, each created once; every stage and every
        resource reported once; one smoke job (two where a kill fell after it ran: the one
        side effect that cannot be looked up again, as RunPod jobs take no idempotency key)."""
        final, view, runpod = deployed.final, deployed.view, self.stack.runpod
        assert final["outcome"] == "ready", final
        assert view.state == "ready" and view.stage == "ready"
        templates = [t["id"] for t in runpod.state.templates.values() if t["name"] == view.name]
        endpoints = [i for i, e in runpod.state.endpoints.items() if e.data["name"] == view.name]
        assert templates == [view.template_id] and endpoints == [view.endpoint_id]
        assert len(runpod.calls_to("POST /v2/templates")) == 1
        assert len(runpod.calls_to("POST /v2/serverless")) == 1
        smoke_jobs = 2 if SMOKE_JOB_RAN in deployed.kills else 1
        assert len(runpod.state.endpoints[endpoints[0]].jobs) == smoke_jobs
        assert final["stages"] == list(stages)  # each stage once: none reported twice
        assert final["last"] == "completed" and final["completed"] == 1
        made = dict(final["resources"])
        assert len(made) == len(final["resources"])  # none reported twice
        assert made["template"] == view.template_id and made["endpoint"] == view.endpoint_id

    async def assert_one_image(self, deployed: Deployed, login: RegistryLogin) -> None:
        """One build and one push, one tag for the deployment in the registry, one set of
        registry credentials at RunPod (named after the deployment) that the template uses."""
        view, runpod = deployed.view, self.stack.runpod
        assert view.image and deployed.effects("build") == deployed.effects("push") == [view.image]
        repository, _ = split_ref(view.image)
        host, _, name = repository.partition("/")
        auth = httpx.BasicAuth(login.username, login.password.get_secret_value())
        async with httpx.AsyncClient(trust_env=False) as http:
            tags = (await http.get(f"http://{host}/v2/{name}/tags/list", auth=auth)).json()
        assert [t for t in tags["tags"] if t.startswith(view.id)] == [view.image.split(":")[-1]]
        registries = [i for i, r in runpod.state.registries.items() if r["name"] == view.name]
        assert registries == [view.registry_auth_id]
        assert len(runpod.calls_to("POST /v2/registries")) == 1
        [template] = [t for t in runpod.state.templates.values() if t["name"] == view.name]
        assert template["image"] == view.image and template["registry"] == view.registry_auth_id


async def drop_image(view: DeploymentView, docker: wi.DockerEnv) -> None:
    """Delete a test deployment's image from the registry and the engine (best effort)."""
    if view.image and view.image_digest:
        async with httpx.AsyncClient(trust_env=False) as http:
            await delete_manifest(http, view.image, view.image_digest, docker.login)
        engine = ImageService(docker_cli=wi.DOCKER_CLI, docker_host=docker.services.docker_host)
        await engine.remove_local(view.image)


@contextlib.asynccontextmanager
async def fork_server(folder: Path) -> AsyncIterator[ForkServer]:
    """A `tests.pipeline.crash_child` fork server: the app imported once, for many runs
    on any database (each run has its own settings); closed, and its child killed, on exit."""
    server = await ForkServer.open("tests.pipeline.crash_child", folder)
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def crashes(
    server: ForkServer, stack: FakeStack, home: Path, database_url: str
) -> AsyncIterator[Crashes]:
    """The app's settings on `database_url` (`home`: an existing folder), its database
    migrated, its processes forked by `server`."""
    settings = Settings(
        home=home, database_url=database_url, master_key=SecretStr(new_master_key()),
        http_timeout_s=5.0, **stack.settings_fields(),
    )  # fmt: skip
    vault = await Vault.open(settings)
    try:
        yield Crashes(settings, vault, server, stack, host_env(settings))
    finally:
        await vault.close()
