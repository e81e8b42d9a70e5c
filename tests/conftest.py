"""Suite-wide set-up: no model requests, a clean KRIPTIK_* environment, and the database
fixtures that run every storage test on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import base64
import io
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr
from pydantic_ai import models

from tests.services import postgres
from vault import Settings, Vault
from vault.logs import JsonFormatter

if TYPE_CHECKING:
    from playwright.async_api import Browser

models.ALLOW_MODEL_REQUESTS = False

# Services are required (fail, not skip) in CI. Read before the environment is cleaned.
REQUIRE_SERVICES = os.environ.get("KRIPTIK_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}
# A developer's own KRIPTIK_* settings must not change what the tests see.
for _name in [name for name in os.environ if name.startswith("KRIPTIK_")]:
    if not _name.startswith("KRIPTIK_TEST_"):
        del os.environ[_name]
# Loopback only: make sure no proxy setting routes test traffic elsewhere.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def pytest_sessionfinish() -> None:
    """Stop the Docker engine and registry the suite started for itself, if it did."""
    if (docker_services := sys.modules.get("tests.services.docker")) is not None:
        docker_services.stop_started()


def need_service(name: str, why: str) -> None:
    """Skip when a real service is missing, unless CI requires it (then fail)."""
    message = f"{name} is not available: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (KRIPTIK_REQUIRE_SERVICES is set)")
    pytest.skip(message)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (Debian's), one per test module: skipped where it is missing,
    failed in CI. Imported on use, so suites without a browser never load Playwright."""
    from tests.services import browser as chromium_service

    if not chromium_service.available():
        need_service("Chromium", "install Debian's `chromium` package")
    async with chromium_service.chromium() as running:
        yield running


def new_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kriptik.db'}"
        return
    if not await postgres.available():
        need_service("PostgreSQL", 'run `eval "$(scripts/start-postgres.sh)"`')
    async with postgres.fresh_database() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        master_key=SecretStr(new_master_key()),
    )


@pytest.fixture
async def vault(settings: Settings) -> AsyncIterator[Vault]:
    opened = await Vault.open(settings)
    yield opened
    await opened.close()


@pytest.fixture
def httpx_lines() -> Iterator[io.StringIO]:
    """httpx's request lines (one per request, at INFO) as `KRIPTIK_LOG_FORMAT=json`
    writes them (`vault.logs.JsonFormatter`), for the tests of the ids they carry."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield buffer
    logger.removeHandler(handler)
    logger.setLevel(level)
