"""Instance heartbeats and claims (`vault.instances`) on SQLite and PostgreSQL, with a
moved clock: only instances silent past the cut-off are claimed, each once, never the
claimer itself; a claim abandoned half-way is retaken; an instance that comes back starts
a fresh, unclaimed epoch and learns at its next beat that it had been presumed dead."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from vault import Settings, Vault
from vault.instances import InstanceStore

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(seconds=90)


async def _silent_since(store: InstanceStore, claimer: str, now: datetime) -> list[str]:
    return await store.claim_silent(claimer, silent_since=now - TIMEOUT, now=now)


async def test_silent_instances_are_claimed_once_and_never_the_claimer(vault: Vault) -> None:
    store = InstanceStore(vault.sessions)
    for name in ("a", "b", "c"):
        await store.register(name, T0)
    assert await store.beat("b", T0 + timedelta(seconds=60))
    later = T0 + timedelta(seconds=100)
    assert await _silent_since(store, "b", later) == ["a", "c"]  # b beat at 60 s: alive
    assert await _silent_since(store, "c", later) == []  # already claimed by b
    await store.recovered("a", "b", later)
    rows = {r.instance_id: r for r in await store.list()}
    assert (rows["a"].claimed_by, rows["a"].recovered_at) == ("b", later)
    assert (rows["c"].claimed_by, rows["c"].recovered_at) == ("b", None)
    # c's takeover was never finished (its claimer died): once the claim is as old as the
    # timeout, another survivor retakes it; a's, finished, is never taken again.
    much_later = later + TIMEOUT + timedelta(seconds=1)
    assert await _silent_since(store, "d", much_later) == ["b", "c"]


async def test_an_instance_that_comes_back_starts_a_fresh_epoch(vault: Vault) -> None:
    store = InstanceStore(vault.sessions)
    await store.register("a", T0)
    back = T0 + timedelta(seconds=200)
    assert await _silent_since(store, "b", back) == ["a"]
    assert not await store.beat("a", back)  # claimed: it was presumed dead
    await store.register("a", back)
    [row] = await store.list()
    assert (row.started_at, row.last_seen, row.claimed_by, row.claimed_at) == (
        back, back, None, None
    )  # fmt: skip
    assert await store.beat("a", back + timedelta(seconds=15))
    assert await _silent_since(store, "b", back + timedelta(seconds=30)) == []


async def test_two_survivors_claiming_at_once_get_each_instance_once(
    vault: Vault, settings: Settings
) -> None:
    """Two instances (two vault handles, two engines) claim the same dead ones at once."""
    other = await Vault.open(settings)
    try:
        for name in ("dead-1", "dead-2", "dead-3"):
            await InstanceStore(vault.sessions).register(name, T0)
        now = T0 + timedelta(seconds=120)
        stores = (InstanceStore(vault.sessions), InstanceStore(other.sessions))
        for _ in range(3):  # a few rounds: the race has more than one way to end
            claims = await asyncio.gather(
                _silent_since(stores[0], "b", now), _silent_since(stores[1], "c", now)
            )
            # Each dead instance claimed exactly once, by one or the other.
            assert sorted(name for got in claims for name in got) == ["dead-1", "dead-2", "dead-3"]
            now += TIMEOUT * 2  # every claim is now abandoned-looking: retaken once again
        owners = {r.instance_id: r.claimed_by for r in await stores[1].list()}
        assert set(owners.values()) <= {"b", "c"}
    finally:
        await other.close()
