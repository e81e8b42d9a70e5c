"""Login brute force at the store, on SQLite and PostgreSQL, with a fake clock (no test
sleeps): wrong passwords slow the next attempt on that account from that address,
exponentially; the owner at another address is never locked out; a burst sent in
parallel checks only a few real hashes; unknown and slowed accounts cost the same hash
as a wrong password; and the counts live in the database, shared by every instance."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

import vault.users as vault_users
from vault import Settings, Vault
from vault.login_tables import LoginDelay
from vault.logins import FIRST_DELAY, FREE_FAILURES, MAX_DELAY, LoginThrottle, delay_after
from vault.models import User
from vault.users import UserStore

RIGHT = SecretStr("correct horse battery staple")
WRONG = SecretStr("wrong password guess")
HOME, AWAY = "203.0.113.7", "198.51.100.9"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The throttle is under test, not argon2's cost: hash cheaply (the production
    parameters take a second per guess on a busy CI machine)."""
    monkeypatch.setattr(vault_users, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024))
    vault_users._dummy_hash.cache_clear()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def users(vault: Vault, clock: Clock) -> UserStore:
    await vault.users.create("ann", RIGHT)
    return UserStore(vault.sessions, throttle=LoginThrottle(vault.sessions, clock=clock))


def test_the_delay_doubles_after_the_free_failures_and_is_capped() -> None:
    delays = [delay_after(n) for n in range(FREE_FAILURES + 4)]
    assert delays[:FREE_FAILURES] == [timedelta(0)] * FREE_FAILURES
    assert delays[FREE_FAILURES:] == [FIRST_DELAY * 2**k for k in range(4)]
    assert delay_after(10_000) == MAX_DELAY


async def test_failures_slow_that_address_exponentially_even_for_the_right_password(
    users: UserStore, clock: Clock
) -> None:
    for _ in range(FREE_FAILURES):  # typos cost no wait
        assert await users.verify("ann", WRONG, address=HOME) is None
    for failures in range(FREE_FAILURES, FREE_FAILURES + 3):
        wait = delay_after(failures)
        clock.advance(wait - timedelta(milliseconds=1))
        assert await users.verify("ann", RIGHT, address=HOME) is None, "checked too soon"
        clock.advance(timedelta(milliseconds=1))
        assert await users.verify("ann", WRONG, address=HOME) is None  # checked: one more
    clock.advance(delay_after(FREE_FAILURES + 3))
    assert await users.verify("ann", RIGHT, address=HOME) is not None
    for _ in range(FREE_FAILURES):  # a success starts the count again
        assert await users.verify("ann", WRONG, address=HOME) is None
    clock.advance(FIRST_DELAY)
    assert await users.verify("ann", RIGHT, address=HOME) is not None


async def test_a_stranger_cannot_lock_the_owner_out(users: UserStore, clock: Clock) -> None:
    for _ in range(3 * FREE_FAILURES):
        clock.advance(MAX_DELAY)  # every guess is checked: the worst case for the owner
        await users.verify("ann", WRONG, address=AWAY)
    assert await users.verify("ann", RIGHT, address=AWAY) is None  # slowed where it guessed
    assert await users.verify("ann", RIGHT, address=HOME) is not None  # the owner is not


async def test_a_burst_of_guesses_checks_at_most_the_free_failures(
    users: UserStore, vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many guesses arrive at once, each is counted before its hash is checked,
    so only the few that win the count are checked against the real hash (and each of
    those is counted); the rest cost a dummy hash and are refused."""
    async with vault.sessions() as session:
        ann = await session.scalar(vault_users.select(User).where(User.name == "ann"))
    assert ann is not None
    checked: list[str] = []
    verify = vault_users._verify
    monkeypatch.setattr(vault_users, "_verify", lambda h, p: checked.append(h) or verify(h, p))
    guesses = 4 * FREE_FAILURES
    results = await asyncio.gather(
        *(users.verify("ann", WRONG, address=HOME) for _ in range(guesses)),
        return_exceptions=True,
    )
    assert all(r is None for r in results), results
    real = checked.count(ann.password_hash)
    assert 1 <= real <= FREE_FAILURES
    assert len(checked) == guesses  # every attempt cost one hash
    async with vault.sessions() as session:  # and every checked guess was counted
        row = await session.get(LoginDelay, ("ann", HOME))
    assert row is not None and row.failures == real


@pytest.mark.parametrize("name", ["nobody", "ann"])
async def test_unknown_and_slowed_accounts_answer_like_a_wrong_password(
    users: UserStore, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(FREE_FAILURES + 1):
        await users.verify("ann", WRONG, address=HOME)
    checked: list[str] = []
    verify = vault_users._verify
    monkeypatch.setattr(vault_users, "_verify", lambda h, p: checked.append(h) or verify(h, p))
    assert await users.verify(name, RIGHT, address=HOME) is None
    assert len(checked) == 1


async def test_another_instance_sees_the_same_delay(
    users: UserStore, settings: Settings, clock: Clock
) -> None:
    for _ in range(FREE_FAILURES):
        await users.verify("ann", WRONG, address=HOME)
    other = await Vault.open(settings)
    try:
        elsewhere = UserStore(other.sessions, throttle=LoginThrottle(other.sessions, clock=clock))
        assert await elsewhere.verify("ann", RIGHT, address=HOME) is None
        clock.advance(FIRST_DELAY)
        assert await elsewhere.verify("ann", RIGHT, address=HOME) is not None
    finally:
        await other.close()


async def test_attempts_per_address_are_counted_across_instances(
    vault: Vault, settings: Settings, clock: Clock
) -> None:
    window = timedelta(seconds=60)
    one = LoginThrottle(vault.sessions, clock=clock)
    other = await Vault.open(settings)
    try:
        two = LoginThrottle(other.sessions, clock=clock)
        admitted = [await t.admit_address(HOME, attempts=3, window=window) for t in (one, two, one)]
        assert all(a.wait_s is None for a in admitted)
        assert (await two.admit_address(HOME, attempts=3, window=window)).wait_s == 60
        assert (await one.admit_address(AWAY, attempts=3, window=window)).wait_s is None
        clock.advance(timedelta(seconds=30))
        assert (await one.admit_address(HOME, attempts=3, window=window)).wait_s == 30
        await two.refund_address(HOME, admitted[0].window or clock.now)  # a success
        assert (await one.admit_address(HOME, attempts=3, window=window)).wait_s is None
        clock.advance(timedelta(seconds=31))  # the window is over
        for _ in range(3):
            assert (await two.admit_address(HOME, attempts=3, window=window)).wait_s is None
    finally:
        await other.close()
