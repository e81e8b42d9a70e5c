"""OAuth redirect flows on their way: the state parameter and the PKCE verifier, between
the authorize URL and the provider's callback.

```
begin(user, provider, session_id=, verifier=, redirect_uri=)  -> state (32 random bytes)
consume(state, user_id=, session_id=)                         -> Pending | OAuthStateInvalid
```

The state is checked once: `consume` deletes its row whatever comes next, so a replayed
callback, a second tab or an attacker's guess finds nothing. It is bound to the user and
to the chat session that began the flow (a callback carried into another session, or
another user's browser, is refused), and it expires (`ttl_s`, ten minutes by default).
Only a SHA-256 digest of the state (and of the session id) is stored, and the verifier is
sealed like a key (`vault.envelope`, bound to the state's digest), so a database reader can
neither complete a flow nor read a verifier. Expired rows are swept as new flows begin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, SecretStr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.envelope import SCHEMA_VERSION, RecordBinding, Sealed, open_sealed, rewrap, seal
from vault.errors import OAuthStateInvalid
from vault.keyring import Keyring
from vault.models import OAuthPending, utcnow
from vault.providers import parse_provider
from vault.redact import REDACTOR, Redactor

__all__ = ["DEFAULT_TTL_S", "OAuthPendingStore", "Pending", "rewrap_pending"]

DEFAULT_TTL_S = 600
_INVALID = (
    "This connection link is no longer valid: it was used already, it expired, or it was "
    "opened in another session. Start the connection again from the chat."
)


class Pending(BaseModel):
    """A flow's state, once consumed: which provider, its PKCE verifier (None without
    PKCE) and the exact redirect URI the authorize URL named (the code exchange repeats it)."""

    model_config = ConfigDict(frozen=True)

    provider: str
    verifier: SecretStr | None
    redirect_uri: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _binding(row: OAuthPending) -> RecordBinding:
    return RecordBinding(row.user_id, row.provider, "oauth-pending", row.state_hash, SCHEMA_VERSION)


def _sealed(row: OAuthPending) -> Sealed | None:
    if row.kek_version is None or row.wrapped_dek is None:
        return None
    if row.nonce is None or row.ciphertext is None:
        return None
    return Sealed(row.kek_version, row.wrapped_dek, row.nonce, row.ciphertext)


class OAuthPendingStore:
    """The `oauth_pending` table. `clock` is "now" (tests move it past an expiry)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        *,
        clock: Callable[[], datetime] = utcnow,
        redactor: Redactor = REDACTOR,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self.clock = clock
        self._redactor = redactor

    async def begin(
        self, user_id: str, provider: str, *, session_id: str, verifier: SecretStr | None,
        redirect_uri: str, ttl_s: int = DEFAULT_TTL_S,
    ) -> str:  # fmt: skip
        """Record a new flow; returns its state, for the authorize URL (and nowhere else)."""
        name = parse_provider(provider)
        if not session_id:
            raise OAuthStateInvalid("a connection needs the chat session that starts it")
        state = secrets.token_urlsafe(32)
        now = self.clock()
        row = OAuthPending(
            state_hash=_digest(state), user_id=user_id, provider=name,
            session_hash=_digest(session_id), redirect_uri=redirect_uri[:500], created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )  # fmt: skip
        plain = verifier.get_secret_value() if verifier is not None else None
        if plain is not None:
            self._redactor.register(plain)
            await self._keyring.ensure_initial()
        async with self._sessions.begin() as session:
            await session.execute(delete(OAuthPending).where(OAuthPending.expires_at <= now))
            if plain is not None:
                version, kek = await self._keyring.current(session)
                sealed = seal(plain, kek=kek, kek_version=version, binding=_binding(row))
                row.kek_version, row.wrapped_dek = sealed.kek_version, sealed.wrapped_dek
                row.nonce, row.ciphertext = sealed.nonce, sealed.ciphertext
            session.add(row)
        return state

    async def consume(self, state: str, *, user_id: str, session_id: str) -> Pending:
        """Take a flow's state, once. Raises `OAuthStateInvalid` for a state never issued,
        used already, expired, or begun by another user or in another session."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                delete(OAuthPending)
                .where(OAuthPending.state_hash == _digest(state))
                .returning(OAuthPending)
            )
            verifier: str | None = None
            if row is not None and self._belongs(row, user_id, session_id):
                sealed = _sealed(row)
                if sealed is not None:
                    kek = await self._keyring.get(session, sealed.kek_version)
                    verifier = open_sealed(sealed, kek=kek, binding=_binding(row))
                    self._redactor.register(verifier)
                pending = Pending(
                    provider=row.provider,
                    verifier=SecretStr(verifier) if verifier is not None else None,
                    redirect_uri=row.redirect_uri,
                )
                return pending
        # The row is gone either way (the delete committed): a wrong session burns it.
        raise OAuthStateInvalid(_INVALID)

    def _belongs(self, row: OAuthPending, user_id: str, session_id: str) -> bool:
        same_user = hmac.compare_digest(row.user_id, user_id)
        same_session = hmac.compare_digest(row.session_hash, _digest(session_id))
        return same_user and same_session and row.expires_at > self.clock()


async def rewrap_pending(session: AsyncSession, keyring: Keyring, version: int, kek: bytes) -> int:
    """For a KEK rotation (inside its transaction): re-wrap every pending verifier's data
    key under the new KEK version; returns how many."""
    rows = (
        await session.scalars(
            select(OAuthPending).where(OAuthPending.kek_version.is_not(None)).with_for_update()
        )
    ).all()
    for row in rows:
        sealed = _sealed(row)
        if sealed is None:
            continue
        old = await keyring.get(session, sealed.kek_version)
        moved = rewrap(sealed, old_kek=old, new_kek=kek, new_version=version, binding=_binding(row))
        row.kek_version, row.wrapped_dek = moved.kek_version, moved.wrapped_dek
    await session.flush()
    return len(rows)
