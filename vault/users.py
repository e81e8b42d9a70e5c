"""Login users: argon2id password hashes, throttled guessing (`vault.logins`), and the
first-run admin."""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
from datetime import datetime
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.errors import UserError
from vault.logins import LoginThrottle
from vault.models import User, utcnow

Role = Literal["admin", "user"]
ADMIN = "admin"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_MIN_PASSWORD = 10
# Hashing a dummy on unknown names keeps the response time the same, so timing does not
# reveal which user names exist.
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def unusable_password_hash() -> str:
    """The hash of a random password nobody knows, for accounts that sign in through
    GitHub: a password guess on one costs the same hash as on any other account."""
    return _HASHER.hash(secrets.token_urlsafe(32))


class UserView(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    github_id: int | None = None


class UserStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self._sessions = sessions
        self.throttle = throttle or LoginThrottle(sessions)

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

    async def get_by_id(self, user_id: str) -> UserView | None:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
            return None if user is None else UserView.model_validate(user, from_attributes=True)

    async def verify(self, name: str, password: SecretStr, *, address: str = "") -> UserView | None:
        """The user when the password matches, else None.

        Each attempt is counted against (`name`, `address`) before its hash is checked
        (`LoginThrottle.claim`): failures in a row slow that address's next attempts on
        that account, exponentially, and a burst sent in parallel checks only the attempt
        that won the count. Other addresses are not slowed, so a stranger cannot lock the
        owner out. Unknown names and refused attempts cost the same hash as a wrong
        password (timing does not tell them apart); hashing runs in a worker thread, so a
        burst of logins does not stall every other request of the process.
        """
        if not await self.throttle.claim(name, address):
            await _check(_dummy_hash(), password)
            return None
        async with self._sessions() as session:
            user = await session.scalar(select(User).where(User.name == name))
        if user is None:
            await _check(_dummy_hash(), password)
            return None
        if not await _check(user.password_hash, password):
            return None  # counted by the claim
        await self.throttle.clear(name, address)
        if _HASHER.check_needs_rehash(user.password_hash):
            rehashed = await asyncio.to_thread(_HASHER.hash, password.get_secret_value())
            async with self._sessions.begin() as session:
                await session.execute(
                    update(User).where(User.id == user.id).values(password_hash=rehashed)
                )
        return UserView.model_validate(user, from_attributes=True)

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


def _verify(hashed: str, password: SecretStr) -> bool:
    try:
        return _HASHER.verify(hashed, password.get_secret_value())
    except (VerificationError, InvalidHashError):
        return False


async def _check(hashed: str, password: SecretStr) -> bool:
    return await asyncio.to_thread(_verify, hashed, password)
