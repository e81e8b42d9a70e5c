"""Login brute force at the store, on SQLite and PostgreSQL: five wrong passwords lock an
account for 15 minutes, even the right password is refused while it is locked, a locked
or unknown account costs the same hash as a known one, and attempts made in parallel
(as a brute-forcer makes them) are all counted."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy import update

import vault.users as vault_users
from vault import Vault
from vault.models import User, utcnow
from vault.users import LOCKOUT, MAX_FAILURES

RIGHT = SecretStr("correct horse battery staple")
WRONG = SecretStr("wrong password guess")


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lockout is under test, not argon2's cost: hash cheaply (the production
    parameters take a second per guess on a busy CI machine)."""
    monkeypatch.setattr(vault_users, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024))
    vault_users._dummy_hash.cache_clear()


async def test_five_failures_lock_the_account_even_for_the_right_password(vault: Vault) -> None:
    await vault.users.create("ann", RIGHT)
    for _ in range(MAX_FAILURES):
        assert await vault.users.verify("ann", WRONG) is None
    assert await vault.users.verify("ann", RIGHT) is None
    assert LOCKOUT >= timedelta(minutes=15)


async def test_the_lock_ends_and_a_success_resets_the_count(vault: Vault) -> None:
    await vault.users.create("ann", RIGHT)
    for _ in range(MAX_FAILURES - 1):
        assert await vault.users.verify("ann", WRONG) is None
    assert await vault.users.verify("ann", RIGHT) is not None  # resets
    for _ in range(MAX_FAILURES - 1):
        assert await vault.users.verify("ann", WRONG) is None
    assert await vault.users.verify("ann", RIGHT) is not None
    for _ in range(MAX_FAILURES):
        await vault.users.verify("ann", WRONG)
    async with vault.sessions.begin() as session:  # the lock ran out
        await session.execute(update(User).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert await vault.users.verify("ann", RIGHT) is not None


async def test_a_lock_on_one_account_leaves_others_alone(vault: Vault) -> None:
    await vault.users.create("ann", RIGHT)
    await vault.users.create("bob", RIGHT)
    for _ in range(MAX_FAILURES):
        await vault.users.verify("ann", WRONG)
    assert await vault.users.verify("bob", RIGHT) is not None
    assert await vault.users.verify("ann", RIGHT) is None


async def test_parallel_guesses_are_all_counted(vault: Vault) -> None:
    """A brute-forcer sends guesses at once. Each failure must be counted, so the account
    locks after MAX_FAILURES of them however they interleave."""
    await vault.users.create("ann", RIGHT)
    results = await asyncio.gather(
        *(vault.users.verify("ann", WRONG) for _ in range(MAX_FAILURES)), return_exceptions=True
    )
    assert all(r is None for r in results), results
    assert await vault.users.verify("ann", RIGHT) is None, "five parallel failures must lock"


@pytest.mark.parametrize("name", ["nobody", "ann"])
async def test_unknown_and_locked_accounts_answer_like_a_wrong_password(
    vault: Vault, name: str
) -> None:
    await vault.users.create("ann", RIGHT)
    for _ in range(MAX_FAILURES):
        await vault.users.verify("ann", WRONG)
    assert await vault.users.verify(name, RIGHT) is None


async def test_a_burst_of_guesses_checks_at_most_max_failures_real_hashes(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many guesses arrive at once, only MAX_FAILURES are checked against the
    real hash before the lock; the rest cost a dummy hash and are refused."""
    ann = await vault.users.create("ann", RIGHT)
    async with vault.sessions() as session:
        real_hash = (await session.get(User, ann.id)).password_hash  # type: ignore[union-attr]
    checked: list[str] = []
    verify = vault_users._verify
    monkeypatch.setattr(vault_users, "_verify", lambda h, p: checked.append(h) or verify(h, p))
    await asyncio.gather(*(vault.users.verify("ann", WRONG) for _ in range(4 * MAX_FAILURES)))
    assert 1 <= checked.count(real_hash) <= MAX_FAILURES
    assert len(checked) == 4 * MAX_FAILURES  # every attempt cost one hash
    assert await vault.users.verify("ann", RIGHT) is None
