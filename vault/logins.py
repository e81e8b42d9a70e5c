"""Login throttling, in the database so that it holds across instances.

- **Per client address**: at most N password logins in a window (the window starts with
  the address's first attempt); a successful login is refunded. Checked before any hash.
- **Per account and address**: failures in a row slow the next attempt from that address
  for that account, exponentially (`delay_after`). A stranger guessing from elsewhere
  only slows themself: the account's owner, at another address, is never locked out.

Every attempt is counted before its password is checked: per address by one atomic
increment below the limit (a burst is let in up to the limit and no further), per account
and address by a compare-and-set UPDATE, so guesses sent in parallel cannot all pass: of
a burst, only the one that wins the count is checked. The clock is injected (tests move
it instead of sleeping).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.login_tables import ACCOUNT_LIMIT, ADDRESS_LIMIT, LoginDelay, LoginWindow
from vault.models import utcnow

__all__ = ["FIRST_DELAY", "FREE_FAILURES", "MAX_DELAY", "Admission", "LoginThrottle", "delay_after"]

FREE_FAILURES: Final = 3  # failures in a row that cost no wait (typos)
FIRST_DELAY: Final = timedelta(seconds=1)
MAX_DELAY: Final = timedelta(minutes=15)
# Delay rows of an account and address quiet for this long are forgotten.
_FORGET_AFTER: Final = timedelta(days=1)


def delay_after(failures: int) -> timedelta:
    """How long the next attempt waits after `failures` failures in a row."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(FIRST_DELAY * 2 ** min(failures - FREE_FAILURES, 20), MAX_DELAY)


@dataclass(frozen=True)
class Admission:
    """An address's attempt: admitted (with the window it counts in), or `wait_s` more."""

    window: datetime | None
    wait_s: float | None = None


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class LoginThrottle:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self.clock = clock

    # ---- per client address ----------------------------------------------------------
    async def admit_address(self, address: str, *, attempts: int, window: timedelta) -> Admission:
        """Count one login attempt from `address`, or say how long it must wait."""
        address = address[:ADDRESS_LIMIT]
        for _ in range(5):  # a window filled or reset meanwhile is re-read, never counted twice
            now = self.clock()
            try:
                admitted = await self._count(address, now, attempts, window)
            except IntegrityError:  # a parallel first attempt created the row
                continue
            if admitted is not None:
                return admitted
        return Admission(None, 1.0)

    async def _count(
        self, address: str, now: datetime, attempts: int, window: timedelta
    ) -> Admission | None:
        async with self._sessions.begin() as session:
            await session.execute(delete(LoginWindow).where(LoginWindow.started_at <= now - window))
            row = await session.get(LoginWindow, address, populate_existing=True)
            if row is None:
                session.add(LoginWindow(address=address, started_at=now, attempts=1))
                await session.flush()
                return Admission(now)
            if row.attempts >= attempts:
                return Admission(None, (row.started_at + window - now).total_seconds())
            # One atomic increment below the limit: parallel attempts of a burst all count
            # (the database orders them on the row), and none passes the limit. Matching the
            # count read above instead (compare-and-set) failed every attempt that lost the
            # race, and a burst of logins far below the limit got 429s.
            counted = await session.execute(
                update(LoginWindow)
                .where(LoginWindow.address == address, LoginWindow.attempts < attempts,
                       LoginWindow.started_at == row.started_at)
                .values(attempts=LoginWindow.attempts + 1)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
            return Admission(row.started_at) if _rowcount(counted) else None

    async def refund_address(self, address: str, window: datetime) -> None:
        """Give back an attempt that logged in (successes do not fill the window)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(LoginWindow)
                .where(LoginWindow.address == address[:ADDRESS_LIMIT],
                       LoginWindow.started_at == window, LoginWindow.attempts > 0)
                .values(attempts=LoginWindow.attempts - 1)
            )  # fmt: skip

    # ---- per account and address -----------------------------------------------------
    async def claim(self, account: str, address: str) -> bool:
        """Count an attempt on `account` from `address` as a failure until `clear` says
        otherwise; False when it must not be checked (too soon, or a parallel attempt
        won the count)."""
        key = (account[:ACCOUNT_LIMIT], address[:ADDRESS_LIMIT])
        now = self.clock()
        try:
            async with self._sessions.begin() as session:
                await session.execute(
                    delete(LoginDelay).where(LoginDelay.updated_at <= now - _FORGET_AFTER)
                )
                row = await session.get(LoginDelay, key, populate_existing=True)
                if row is None:
                    first = LoginDelay(account=key[0], address=key[1], failures=1,
                                       next_at=now + delay_after(1), updated_at=now)  # fmt: skip
                    session.add(first)
                    await session.flush()
                    return True
                if row.next_at > now:
                    return False
                failures = row.failures + 1
                counted = await session.execute(
                    update(LoginDelay)
                    .where(LoginDelay.account == key[0], LoginDelay.address == key[1],
                           LoginDelay.failures == row.failures)
                    .values(failures=failures, next_at=now + delay_after(failures), updated_at=now)
                    .execution_options(synchronize_session=False)
                )  # fmt: skip
                return _rowcount(counted) == 1
        except IntegrityError:  # a parallel attempt created the row first, and won
            return False

    async def clear(self, account: str, address: str) -> None:
        """The password was right: forget the failures of `account` from `address`."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(LoginDelay).where(
                    LoginDelay.account == account[:ACCOUNT_LIMIT],
                    LoginDelay.address == address[:ADDRESS_LIMIT],
                )
            )
