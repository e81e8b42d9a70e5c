"""SIGKILL the app inside each deploy target's create step, start it again, and the
deployment ends ready with exactly one Hugging Face endpoint, Cloud Run service or SageMaker
endpoint (SageMaker's through the user's assumed AWS role).

Each test is one deployment (real DBOS on SQLite, the real targets against the fakes, which
run in this process so what they count survives the kills), killed once by
`tests.pipeline.target_crash_child`: just before the provider's create call, just after the
provider created the resource (the step has not returned, so recovery runs it again and
must adopt what exists), or just after DBOS recorded the step. A new process under the same
executor id recovers the workflow and runs it to the end.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import pytest
from pydantic import SecretStr

from tests.pipeline.crash_child import Boundary, effect, record
from tests.pipeline.crashes import crashes
from tests.pipeline.target_deploys import AWS_ROLE, deployment_plan, plan_json
from tests.resilience.processes import ForkServer, Run
from tools.simulator.all import FakeStack
from tools.simulator.huggingface import DEFAULT_TOKEN
from tools.targets.cloudrun import service_id_for
from tools.targets.huggingface import endpoint_name
from tools.targets.sagemaker import resource_name
from vault import Settings, Vault
from vault.deployments import DeploymentStore, DeploymentView

HF_KILLS: Final = (
    effect("hf create before"),
    effect("hf create after"),
    record("target.create"),
)
CLOUDRUN_KILLS: Final = (
    effect("cloudrun create before"),
    effect("cloudrun create after"),
    record("target.create"),
)
SAGEMAKER_KILLS: Final = (
    effect("sagemaker create before"),
    effect("sagemaker create after"),
    record("target.create"),
)
HF_CREATE: Final = "POST /v2/endpoint/{namespace}"
CLOUDRUN_CREATE: Final = "POST /v2/projects/{project}/locations/{location}/services"


@dataclass
class App:
    settings: Settings
    vault: Vault
    server: ForkServer
    env: dict[str, str]
    runs: int = 0

    async def user(self, fakes: FakeStack) -> str:
        self.runs += 1
        user = await self.vault.users.create(f"target{self.runs}", SecretStr("correct-horse-9"))
        await self.vault.credentials.add(user.id, "huggingface", SecretStr(DEFAULT_TOKEN))
        key = fakes.google_oauth.state.new_service_account()
        await self.vault.credentials.add(user.id, "gcp", SecretStr(key))
        await self.vault.credentials.add(user.id, "aws", SecretStr(AWS_ROLE))
        return user.id

    async def deploy(self, user_id: str, target: Any, kill: Boundary) -> tuple[DeploymentView, Run]:
        """Start the deployment, killed at `kill`; resume it in a new process to the end."""
        executor = f"target-{self.runs}"
        request: dict[str, Any] = {
            "mode": "start", "executor": executor, "user_id": user_id,
            "plan": plan_json(deployment_plan(target)), "kill": kill.spec(),
        }  # fmt: skip
        killed = await self.server.run(request, self.env)
        died = killed.exit == -signal.SIGKILL and killed.lines[-1:] == [{"killed": str(kill)}]
        assert died, f"no kill at {kill}: " + await self.server.explain(killed)
        [view] = await DeploymentStore(self.vault.sessions).list(user_id)
        resume = {"mode": "resume", "executor": executor, "deployment_id": view.id, "kill": None}
        final = await self.server.run(resume, self.env)
        assert final.exit == 0 and "outcome" in final.lines[-1], await self.server.explain(final)
        return await DeploymentStore(self.vault.sessions).get(view.id, user_id=user_id), final


@pytest.fixture(scope="module")
async def app(stack: FakeStack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[App]:
    home = tmp_path_factory.mktemp("target-crash")
    server = await ForkServer.open("tests.pipeline.target_crash_child", home)
    try:
        database_url = f"sqlite+aiosqlite:///{home / 'kriptik.db'}"
        async with crashes(server, stack, home, database_url) as running:
            env = dict(running.env)
            # Not a `*_base_url`, so `host_env` leaves it out: the fake's token endpoint.
            env["KRIPTIK_GOOGLE_OAUTH_TOKEN_URL"] = running.settings.google_oauth_token_url
            # KripTik's own AWS principal, which assumes the user's role (not base URLs either).
            for name, value in stack.aws_settings_fields().items():
                if not name.endswith("_base_url"):
                    env[f"KRIPTIK_{name.upper()}"] = str(value)
            yield App(running.settings, running.vault, server, env)
    finally:
        await server.close()


def _assert_ready(view: DeploymentView, run: Run, stages: list[str]) -> None:
    final = run.lines[-1]
    assert final["outcome"] == "ready", final
    assert view.state == "ready" and view.urls.get("base")
    assert final["stages"] == stages  # each once: none reported twice across the kill
    assert final["last"] == "completed" and final["completed"] == 1
    assert [r for r in final["resources"] if r[0] == "endpoint"] == [["endpoint", view.endpoint_id]]


@pytest.mark.parametrize("kill", HF_KILLS, ids=str)
async def test_hugging_face_killed_in_its_create_step_ends_with_one_endpoint(
    app: App, fakes: FakeStack, kill: Boundary
) -> None:
    view, run = await app.deploy(await app.user(fakes), "huggingface", kill)
    _assert_ready(view, run, ["creating_endpoint", "waiting", "smoke_test"])
    [endpoint] = fakes.hf_endpoints.live()
    assert endpoint.raw["name"] == endpoint_name(view.id) == view.endpoint_id
    # Created once: a recovered step finds the endpoint by its name before creating.
    assert len(fakes.hf_endpoints.calls_to(HF_CREATE)) == 1


@pytest.mark.parametrize("kill", CLOUDRUN_KILLS, ids=str)
async def test_cloud_run_killed_in_its_create_step_ends_with_one_service(
    app: App, fakes: FakeStack, kill: Boundary
) -> None:
    view, run = await app.deploy(await app.user(fakes), "cloudrun", kill)
    _assert_ready(view, run, ["building", "creating_endpoint", "waiting", "smoke_test"])
    [service] = fakes.cloudrun.services.values()
    assert service.service_id == service_id_for(view.id) == view.endpoint_id
    # After the provider acted, the recovered step's create meets a 409 and adopts it.
    creates = len(fakes.cloudrun.calls_to(CLOUDRUN_CREATE))
    assert creates == (2 if kill == effect("cloudrun create after") else 1)


def _sagemaker_calls(fakes: FakeStack, op: str) -> int:
    return sum(c.headers.get("x-amz-target") == f"SageMaker.{op}" for c in fakes.aws.calls)


@pytest.mark.parametrize("kill", SAGEMAKER_KILLS, ids=str)
async def test_sagemaker_killed_in_its_create_step_ends_with_one_endpoint(
    app: App, fakes: FakeStack, kill: Boundary
) -> None:
    view, run = await app.deploy(await app.user(fakes), "sagemaker", kill)
    _assert_ready(view, run, ["creating_endpoint", "waiting", "smoke_test"])
    assert list(fakes.aws.state.endpoints) == [("us-east-1", resource_name(view.id))]
    assert view.endpoint_id == resource_name(view.id)
    assert fakes.aws.state.resource_count() == 3  # one model, one config, one endpoint
    # After SageMaker acted, the recovered step's create meets "already existing" and adopts.
    creates = _sagemaker_calls(fakes, "CreateEndpoint")
    assert creates == (2 if kill == effect("sagemaker create after") else 1)
