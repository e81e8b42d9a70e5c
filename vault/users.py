"""Login users: argon2id password hashes, lockout after repeated failures, and the
first-run admin."""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, SecretStr
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.errors import UserError
from vault.models import User, utcnow

Role = Literal["admin", "user"]
ADMIN = "admin"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
# Hashing a dummy on unknown names keeps the response time the same, so timing does not
# reveal which user names exist.
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


class UserView(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime


class UserStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def count(self) -> int:
        async with self._sessions() as session:
            return await session.scalar(select(func.count()).select_from(User)) or 0

    async def create(self, name: str, password: SecretStr, *, role: Role = "user") -> UserView:
        if not _NAME.match(name):
            raise UserError("a user name is 1-64 lowercase letters, digits, '.', '_' or '-'")
        if len(password.get_secret_value()) < _MIN_PASSWORD:
            raise UserError(f"the password must be at least {_MIN_PASSWORD} characters")
        user = User(
            name=name,
            password_hash=_HASHER.hash(password.get_secret_value()),
            role=role,
            created_at=utcnow(),
            failed_logins=0,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(user)
        except IntegrityError:
            raise UserError(f"user {name!r} already exists") from None
        return UserView.model_validate(user, from_attributes=True)

    async def get(self, name: str) -> UserView | None:
        async with self._sessions() as session:
            user = await session.scalar(select(User).where(User.name == name))
            return None if user is None else UserView.model_validate(user, from_attributes=True)

    async def verify(self, name: str, password: SecretStr) -> UserView | None:
        """The user when the password matches and the account is not locked, else None.

        Each attempt is counted before its hash is checked, by one atomic UPDATE, so
        guesses sent in parallel cannot slip past the lockout: at most MAX_FAILURES of them
        are checked per lockout window. Unknown and locked accounts cost the same hash
        (timing does not tell them apart), and hashing runs in a worker thread, so a burst
        of logins does not stall every other request of the process.
        """
        now = utcnow()
        open_account = or_(User.locked_until.is_(None), User.locked_until <= now)
        async with self._sessions.begin() as session:
            counted = await session.execute(
                update(User)
                .where(User.name == name, open_account)
                .values(failed_logins=User.failed_logins + 1)
                .execution_options(synchronize_session=False)
            )
            user = (
                await session.scalar(select(User).where(User.name == name))
                if _rowcount(counted)
                else None
            )
        if user is None or user.failed_logins > MAX_FAILURES:
            await _check(_dummy_hash(), password)
            if user is not None:
                await self._lock(user.id, now)
            return None
        if not await _check(user.password_hash, password):
            if user.failed_logins >= MAX_FAILURES:
                await self._lock(user.id, now)
            return None
        values: dict[str, object] = {"failed_logins": 0}
        if _HASHER.check_needs_rehash(user.password_hash):
            values["password_hash"] = await asyncio.to_thread(
                _HASHER.hash, password.get_secret_value()
            )
        async with self._sessions.begin() as session:
            # A lock set meanwhile by parallel failures stays: this guess was within them.
            await session.execute(update(User).where(User.id == user.id).values(**values))
        return UserView.model_validate(user, from_attributes=True)

    async def _lock(self, user_id: str, now: datetime) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(locked_until=now + LOCKOUT, failed_logins=0)
            )

    async def ensure_admin(self) -> SecretStr | None:
        """On first run (no users at all) create `admin` with a random password and return
        that password, to be shown once. Only its hash is stored."""
        if await self.count():
            return None
        password = SecretStr(secrets.token_urlsafe(18))
        try:
            await self.create(ADMIN, password, role="admin")
        except UserError:  # another instance created it first
            return None
        return password


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _verify(hashed: str, password: SecretStr) -> bool:
    try:
        return _HASHER.verify(hashed, password.get_secret_value())
    except (VerificationError, InvalidHashError):
        return False


async def _check(hashed: str, password: SecretStr) -> bool:
    return await asyncio.to_thread(_verify, hashed, password)
