"""GitHub sign-ins: accounts keyed on GitHub's numeric user id, and invitations.

A login name can be renamed and then registered by someone else; the numeric id is never
reused. So a KripTik account belongs to a GitHub id, and a login that now names another
id never gets it. An invitation names an id (that account, for good) or a login
(whoever holds it at their first sign-in; that sign-in binds the id and uses the
invitation up). Who may sign in without an invitation (the allow-list) is decided above
the vault (`ui.web.github_access`); this store keeps who signed in and who was invited.
"""

from __future__ import annotations

import asyncio
import re
from typing import Final

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.errors import UserError
from vault.login_tables import GitHubInvite
from vault.models import User, utcnow
from vault.users import UserView, unusable_password_hash

__all__ = ["GitHubAccount", "GitHubAccounts", "invite_subject"]

# GitHub's rule for logins: 1-39 letters, digits or single inner hyphens.
_LOGIN: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_NAME_CHARS: Final = re.compile(r"[^a-z0-9_.-]")


class GitHubAccount(BaseModel):
    """Who GitHub says signed in."""

    model_config = ConfigDict(frozen=True)

    id: int
    login: str


def invite_subject(who: str) -> str:
    """`id:<n>` for a numeric id, `login:<name>` for a login (lowercase: GitHub logins
    are case-insensitive); UserError for anything else. Digits always name an id."""
    who = who.strip()
    if who.isdigit():  # an all-digit login exists, but digits name the id: it is the safer
        if 0 < int(who) < 2**63:
            return f"id:{int(who)}"
    elif _LOGIN.fullmatch(who):
        return f"login:{who.lower()}"
    raise UserError(f"{who!r} is neither a GitHub login nor a numeric GitHub user id")


def _subjects(account: GitHubAccount) -> list[str]:
    return [f"id:{account.id}", f"login:{account.login.lower()}"]


def _names(account: GitHubAccount) -> list[str]:
    """The account's user name, and the one to use when a different (older) GitHub
    account already holds it."""
    base = "github." + _NAME_CHARS.sub("-", account.login.lower())[:45]
    return [base, f"{base}.{account.id}"]


class GitHubAccounts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def invite(self, who: str, *, invited_by: str) -> str:
        """Invite a GitHub login or numeric id; returns the invitation's subject. An id
        that already has an account marks that account invited."""
        subject = invite_subject(who)
        async with self._sessions.begin() as session:
            if subject.startswith("id:"):
                marked = await session.execute(
                    update(User).where(User.github_id == int(subject[3:]))
                    .values(github_invited=True)
                    .execution_options(synchronize_session=False)
                )  # fmt: skip
                if getattr(marked, "rowcount", 0):
                    return subject
            if await session.get(GitHubInvite, subject) is None:
                session.add(
                    GitHubInvite(subject=subject, invited_by=invited_by, created_at=utcnow())
                )
        return subject

    async def revoke(self, who: str) -> bool:
        """Withdraw an invitation (and an invited account's standing, for an id)."""
        subject = invite_subject(who)
        async with self._sessions.begin() as session:
            found = await session.execute(
                delete(GitHubInvite).where(GitHubInvite.subject == subject)
            )
            count = int(getattr(found, "rowcount", 0) or 0)
            if subject.startswith("id:"):
                unmarked = await session.execute(
                    update(User).where(User.github_id == int(subject[3:]), User.github_invited)
                    .values(github_invited=False)
                    .execution_options(synchronize_session=False)
                )  # fmt: skip
                count += int(getattr(unmarked, "rowcount", 0) or 0)
        return count > 0

    async def invitations(self) -> list[tuple[str, str]]:
        """Pending invitations: (subject, invited by)."""
        async with self._sessions() as session:
            rows = await session.scalars(select(GitHubInvite).order_by(GitHubInvite.created_at))
            return [(row.subject, row.invited_by) for row in rows]

    async def is_invited(self, account: GitHubAccount) -> bool:
        """Whether the account was invited: its KripTik account, or a pending invitation."""
        async with self._sessions() as session:
            user = await session.scalar(select(User).where(User.github_id == account.id))
            if user is not None and user.github_invited:
                return True
            found = await session.scalar(
                select(GitHubInvite.subject).where(GitHubInvite.subject.in_(_subjects(account)))
            )
            return found is not None

    async def admit(self, account: GitHubAccount) -> UserView:
        """The account's KripTik user, created on its first sign-in. Uses up any invitation
        for its id or login (the account keeps the invited standing)."""
        # A real hash (of a password nobody knows), off the event loop and outside the
        # transaction: argon2 takes a noticeable fraction of a second.
        hashed = await asyncio.to_thread(unusable_password_hash)
        for _ in range(3):  # a parallel first sign-in of the same account may win the insert
            try:
                return await self._admit(account, hashed)
            except IntegrityError:
                continue
        raise UserError(f"could not create the user for GitHub account {account.login}")

    async def _admit(self, account: GitHubAccount, hashed: str) -> UserView:
        async with self._sessions.begin() as session:
            used = await session.execute(
                delete(GitHubInvite).where(GitHubInvite.subject.in_(_subjects(account)))
            )
            invited = bool(getattr(used, "rowcount", 0))
            user = await session.scalar(select(User).where(User.github_id == account.id))
            if user is None:
                taken = set(
                    await session.scalars(select(User.name).where(User.name.in_(_names(account))))
                )
                name = next((n for n in _names(account) if n not in taken), None)
                if name is None:
                    raise UserError(f"no free user name for GitHub account {account.login}")
                user = User(
                    name=name, password_hash=hashed, role="user", created_at=utcnow(),
                    github_id=account.id, github_invited=invited,
                )  # fmt: skip
                session.add(user)
                await session.flush()
            elif invited and not user.github_invited:
                user.github_invited = True
            return UserView.model_validate(user, from_attributes=True)

    async def link(self, name: str, github_id: int) -> UserView:
        """Bind an existing KripTik user to a GitHub id (an account made before ids were
        recorded); the admin vouches for it, so it counts as invited."""
        async with self._sessions.begin() as session:
            user = await session.scalar(select(User).where(User.name == name))
            if user is None:
                raise UserError(f"no user {name!r}")
            if await session.scalar(select(User.id).where(User.github_id == github_id)):
                raise UserError(f"GitHub id {github_id} already belongs to a KripTik user")
            user.github_id, user.github_invited = github_id, True
            return UserView.model_validate(user, from_attributes=True)
