"""Fixtures for the Connect tests: every provider fake with its OAuth apps registered, a
vault (SQLite and PostgreSQL), the real clients on one HTTP client, and a `Connections`
whose clock the test moves and whose waits between device-flow polls are recorded, not
slept."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from tests.conftest import new_master_key
from tools.clients._http import Retry
from tools.connect import Connections
from tools.simulator.all import FakeStack
from vault import Settings, Vault

PUBLIC_URL = "http://127.0.0.1:8000"


@dataclass
class Clock:
    """A clock the test moves (`advance`)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Waits:
    """The device flow's waits between polls, recorded instead of slept."""

    seconds: list[float] = field(default_factory=list[float])

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    running = FakeStack().start()
    yield running
    running.stop()


@pytest.fixture
def fakes(stack: FakeStack) -> Iterator[FakeStack]:
    stack.reset()
    yield stack
    stack.assert_clean()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, stack: FakeStack) -> Settings:
    return Settings(
        home=tmp_path / "home", database_url=database_url,
        master_key=SecretStr(new_master_key()), public_url=PUBLIC_URL, http_timeout_s=5.0,
        **stack.settings_fields(), **stack.oauth_settings_fields(),
    )  # fmt: skip


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def connections(
    vault: Vault, settings: Settings, http: httpx.AsyncClient, clock: Clock, waits: Waits,
    fakes: FakeStack,
) -> Connections:  # fmt: skip
    return Connections(vault, settings, http, clock=clock, sleep=waits, retry=Retry(max_attempts=1))


@pytest.fixture
async def user(vault: Vault) -> str:
    return (await vault.users.create("ann", SecretStr("correct horse battery"))).id


async def approve_in_browser(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Open an authorize URL as the person's browser: the fake approves and redirects to the
    callback; returns the callback's query (code and state, or error)."""
    answer = await http.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{PUBLIC_URL}/connect/"), location
    return dict(parse_qsl(urlsplit(location).query))
