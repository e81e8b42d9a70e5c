"""Fixtures for the pipeline tests: every provider fake (RunPod with worker scripts and
logs), a vault on SQLite with a user and keys, and DBOS launched once per module with
services that each test may swap (timings, clock, images).

DBOS is one per process, so each module that runs workflows launches it once (`pipeline`)
and each test gives the module's `DeploymentPipeline` the services it needs with `use(...)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr

from tests.conftest import new_master_key
from tests.pipeline.fakes import DeployRunPodFake
from tools.clients._http import Retry
from tools.pipeline import api
from tools.pipeline.durable import DeploymentPipeline
from tools.pipeline.services import PipelineServices, Timings
from tools.publish.teardown import WebAppTeardown
from tools.simulator.all import FakeStack
from tools.simulator.huggingface import DEFAULT_TOKEN
from tools.simulator.runpod import DEFAULT_KEY
from vault import Settings, Vault
from vault.deployments import DeploymentCaps

# Durable waits between polls, short enough for tests; the clock decides what "long" is.
FAST = Timings(
    poll_s=0.01,
    ready_timeout_s=1800,
    throttle_grace_s=600,
    unhealthy_grace_s=180,
    key_wait_s=30,
    smoke_wait_ms=5000,
    log_budget_s=2.0,
)


class TickingClock:
    """A clock that moves on by `step` each time it is read (one poll = one step)."""

    def __init__(self, step_s: float = 60.0) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.step = timedelta(seconds=step_s)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture(scope="session")
def stack() -> Iterator[FakeStack]:
    running = FakeStack(runpod=DeployRunPodFake()).start()
    yield running
    running.stop()


@pytest.fixture
def fakes(stack: FakeStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    stack.reset()
    yield stack
    stack.assert_clean()


@pytest.fixture
def runpod(fakes: FakeStack) -> DeployRunPodFake:
    fake = fakes.runpod
    assert isinstance(fake, DeployRunPodFake)
    return fake


@dataclasses.dataclass
class PipelineEnv:
    settings: Settings
    vault: Vault
    http: httpx.AsyncClient
    base: PipelineServices
    pipe: DeploymentPipeline
    users: int = 0

    async def new_user(self, *, hf: bool = True) -> str:
        """A user with a RunPod key (and a Hugging Face token)."""
        self.users += 1
        user = await self.vault.users.create(f"user{self.users}", SecretStr("correct-horse-1"))
        await self.vault.credentials.add(user.id, "runpod", SecretStr(DEFAULT_KEY))
        if hf:
            await self.vault.credentials.add(user.id, "huggingface", SecretStr(DEFAULT_TOKEN))
        return user.id

    def use(self, **changes: Any) -> PipelineServices:
        """Services for one test (the module's, with `changes`), handed to the pipeline."""
        services = dataclasses.replace(self.base, **changes)
        self.pipe.services = services
        return services


# The spend controls these tests were written against, pinned here so that a change of
# the operator's defaults (vault/settings.py) does not move their figures.
SPEND_CONTROLS: dict[str, float | int] = {
    "monthly_budget_usd": 50.0,
    "deployment_cap_usd": 20.0,
    "endpoint_ttl_s": 24 * 3600,
    "endpoint_idle_limit_s": 2 * 3600,
}


def settings_for(home: Path, stack: FakeStack, database_url: str | None = None) -> Settings:
    return Settings(
        home=home,
        database_url=database_url or f"sqlite+aiosqlite:///{home / 'kriptik.db'}",
        master_key=SecretStr(new_master_key()),
        http_timeout_s=5.0,
        **stack.settings_fields(),
        **SPEND_CONTROLS,  # pyright: ignore[reportArgumentType]
    )


@pytest.fixture(scope="module")
async def pipeline(
    stack: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PipelineEnv]:
    settings = settings_for(tmp_path_factory.mktemp("pipeline"), stack)
    vault = await Vault.open(settings)
    async with httpx.AsyncClient(trust_env=False) as http:
        retry = Retry(max_attempts=1)
        web = WebAppTeardown(vault=vault, settings=settings, http=http, retry=retry)
        base = PipelineServices(
            settings=settings, vault=vault, http=http, timings=FAST, retry=retry, web=web
        )
        pipe = await api.launch(base)
        try:
            yield PipelineEnv(settings, vault, http, base, pipe)
        finally:
            await api.shutdown(pipe)
            await vault.close()


@pytest.fixture
def services(pipeline: PipelineEnv, fakes: FakeStack) -> Callable[..., PipelineServices]:
    """`services(**changes)`: this test's services (fakes reset first)."""
    pipeline.use()
    return pipeline.use


def caps(max_live: int = 2, max_workers: int = 3, max_gpus: int = 2) -> DeploymentCaps:
    return DeploymentCaps(max_live=max_live, max_workers=max_workers, max_gpus=max_gpus)
