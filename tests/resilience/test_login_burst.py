"""A burst of logins from one address, within the limit, is let in whole, on every
instance at once; the limit still holds exactly.

When an instance dies, all of its users log in again on the others within seconds, and
many users can share an address (an office behind one NAT, or a proxy whose forwarded
address is not trusted). The per-address count is kept in the database so that it holds
across instances; counted with a compare-and-set that gave up after five lost races, such
a burst turned far-below-the-limit logins into "429 Too many login attempts" (the load
test saw it when fifty users moved to the surviving instance at once). Here, on
PostgreSQL, two vault handles (two instances) count 40 logins from one address at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.conftest import new_master_key
from vault import Settings, Vault
from vault.logins import LoginThrottle

WINDOW = timedelta(minutes=15)


@pytest.fixture
async def two(database: str, tmp_path: Path) -> AsyncIterator[tuple[Vault, Vault]]:
    settings = Settings(
        home=tmp_path, database_url=database, master_key=SecretStr(new_master_key())
    )
    one = await Vault.open(settings)
    other = await Vault.open(settings)
    yield one, other
    await other.close()
    await one.close()


async def _burst(
    vaults: tuple[Vault, Vault], address: str, count: int, attempts: int
) -> list[float | None]:
    throttles = [LoginThrottle(v.sessions) for v in vaults]
    admitted = await asyncio.gather(*(
        throttles[n % 2].admit_address(address, attempts=attempts, window=WINDOW)
        for n in range(count)
    ))  # fmt: skip
    return [a.wait_s for a in admitted]


async def test_a_burst_within_the_limit_is_let_in_whole(two: tuple[Vault, Vault]) -> None:
    waits = await _burst(two, "203.0.113.7", 40, attempts=1000)
    assert waits == [None] * 40


async def test_a_burst_past_the_limit_lets_in_exactly_the_limit(two: tuple[Vault, Vault]) -> None:
    waits = await _burst(two, "203.0.113.8", 40, attempts=25)
    refused = [w for w in waits if w is not None]
    assert len(refused) == 15  # exactly the limit let in, across both instances
    assert all(w > 60 for w in refused)  # told to wait for the window, not to retry at once
