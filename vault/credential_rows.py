"""What every credential operation shares: the displayable view of a row, its envelope
binding, the owner-filtered lookup, and the audit row each change appends.

`vault.credentials.CredentialStore` is built on `CredentialRows` (through the OAuth grants
of `vault.oauth_grants`); nothing else uses it directly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.audit import Appending, AuditLog, Outcome
from vault.envelope import RecordBinding, Sealed
from vault.errors import CredentialNotFound
from vault.keyring import Keyring
from vault.models import Credential
from vault.providers import parse_provider
from vault.redact import REDACTOR, Redactor

__all__ = [
    "DEFAULT_LABEL",
    "USER",
    "Action",
    "CredentialRows",
    "CredentialView",
    "StoredListener",
    "Validation",
    "binding_of",
    "sealed_of",
    "view_of",
]

_log = logging.getLogger(__name__)
# Told (user id, provider) after a key is stored or an account connected.
StoredListener = Callable[[str, str], Awaitable[None]]

DEFAULT_LABEL = "default"
# Who made a change: the owner, through the app (chat, panels, the agent's checks), unless
# the caller says otherwise; the CLI says "cli".
USER = "user"
# "refresh failed" is written `refresh_failed` in the row's tool name, and as words in its
# summary.
Action = Literal[
    "added", "validated", "removed", "rotated",
    "connected", "refreshed", "refresh_failed", "disconnected",
]  # fmt: skip


class CredentialView(BaseModel):
    """What may be shown about a stored key: never the key itself.

    `connected_via` is None for a pasted key, else how the account was connected
    ("device", "github_app", "oauth", "pkce"); `expires_at` is when its access token
    expires (None: it does not, or it is refreshed before it does); `needs_reconnect`: a
    refresh failed for good, and the user must connect again."""

    provider: str
    label: str
    tail: str
    created_at: datetime
    last_used_at: datetime | None
    last_validated_at: datetime | None
    validation_ok: bool | None
    validation_message: str | None
    identity: str | None
    scopes: list[str]
    limits: dict[str, Any]
    connected_via: str | None = None
    expires_at: datetime | None = None
    needs_reconnect: bool = False

    @property
    def masked(self) -> str:
        return f"••••{self.tail}"


class Validation(BaseModel):
    ok: bool
    message: str
    identity: str | None = None
    scopes: list[str] = []
    limits: dict[str, Any] = {}


def label_note(label: str) -> str:
    return "" if label == DEFAULT_LABEL else f" labelled {label!r}"


def binding_of(row: Credential) -> RecordBinding:
    return RecordBinding(row.user_id, row.provider, row.label, row.id, row.schema_version)


def sealed_of(row: Credential) -> Sealed:
    return Sealed(row.kek_version, row.wrapped_dek, row.nonce, row.ciphertext)


def view_of(row: Credential) -> CredentialView:
    return CredentialView.model_validate(row, from_attributes=True)


def _words(action: Action) -> str:
    return action.replace("_", " ")


class CredentialRows:
    """The store's state and the two things every operation does: find the owner's row,
    and append the change's audit row in the change's own transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        audit: AuditLog,
        *,
        redactor: Redactor = REDACTOR,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._audit = audit
        self._redactor = redactor
        self._stored_listeners: list[StoredListener] = []

    def on_stored(self, listener: StoredListener) -> Callable[[], None]:
        """Call `listener(user_id, provider)` after each key stored or account connected
        (committed): the composition root wakes deployments that wait for a new key.
        Returns what stops it."""
        self._stored_listeners.append(listener)
        return lambda: self._stored_listeners.remove(listener)

    async def _stored(self, user_id: str, provider: str) -> None:
        for listener in self._stored_listeners:
            try:
                await listener(user_id, provider)
            except Exception:  # the key is stored: a listener's failure must not undo that
                _log.exception("a listener for new %s keys failed", provider)

    async def _audited(
        self, chain: Appending, action: Action, row: Credential, actor: str, *,
        outcome: Outcome = "success", **more: object,
    ) -> None:  # fmt: skip
        facts = {"provider": row.provider, "label": row.label, "tail": row.tail, "actor": actor}
        done = _words(action)
        summary = f"{row.provider} key {row.label!r} ending in {row.tail} {done} by {actor}"
        await chain.append(self._audit.credential_row(
            action, user_id=row.user_id, facts=facts | more, outcome=outcome, summary=summary,
        ))  # fmt: skip

    async def _row(
        self, session: AsyncSession, user_id: str, provider: str, label: str, *,
        for_update: bool = False,
    ) -> Credential:  # fmt: skip
        name = parse_provider(provider)
        query = select(Credential).where(
            Credential.user_id == user_id, Credential.provider == name, Credential.label == label
        )
        row = await session.scalar(query.with_for_update() if for_update else query)
        if row is None:
            raise CredentialNotFound(
                f"no {name} key{label_note(label)} is stored; add one with"
                f" `kriptik keys add {name}` or paste it in the chat"
            )
        return row
