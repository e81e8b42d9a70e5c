"""What the instance tests share: one fresh PostgreSQL database per module (several
instances are several processes on it; skipped, or failed under KRIPTIK_REQUIRE_SERVICES,
without PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import need_service
from tests.services import postgres


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[str]:
    if not await postgres.available():
        need_service("PostgreSQL", 'run `eval "$(scripts/start-postgres.sh)"`')
    async with postgres.fresh_database() as url:
        yield url
