"""Fixtures for the provider-client tests.

- `fake_stack` (session): every provider fake served on 127.0.0.1.
- `fakes` (per test): the same stack, reset before the test; after it, any contract
  violation seen by any fake (a request or a response that breaks the published spec)
  fails the test with the validator's message.
- `clock` and `retry`: a fake clock, and a retry policy on it (no real sleeps).
- `http`: one `httpx.AsyncClient` for the session, as in the app (no proxies: loopback).
- `fake_settings`: `Settings` whose base URLs point at the fakes.
- `docker_services` (session): a real dockerd and an htpasswd registry (tests/services/
  docker.py); skips when there are none, fails instead when KRIPTIK_REQUIRE_SERVICES is set.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from huggingface_hub import constants as hf_constants

from tests.conftest import need_service
from tests.services import docker as docker_services_module
from tests.services.docker import DockerServices
from tools.clients._http import Retry
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from vault.settings import Settings


@pytest.fixture(scope="session")
def fake_stack() -> Iterator[FakeStack]:
    stack = FakeStack().start()
    yield stack
    stack.stop()


@pytest.fixture
def fakes(fake_stack: FakeStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    # HfApi refuses all calls when HF_HUB_OFFLINE was set at import; tests talk to a fake.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    fake_stack.reset()
    yield fake_stack
    fake_stack.assert_clean()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def retry(clock: FakeClock) -> Retry:
    return Retry(sleep=clock.sleep, clock=clock.now, rng=random.Random(7))


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def fake_settings(fakes: FakeStack) -> Settings:
    return Settings(**fakes.settings_fields(), http_timeout_s=5.0)


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every logger at DEBUG (ours, httpx's, huggingface_hub's)."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture(scope="session")
def docker_services() -> DockerServices:
    services = docker_services_module.available()
    if services is None:
        need_service("dockerd and a registry", 'run `eval "$(scripts/start-docker-services.sh)"`')
    assert services is not None
    return services
