"""Encrypted, per-user credentials.

Every operation takes the owning `user_id` and filters on it in SQL, so one user can never
read, list, validate or delete another user's keys. Plaintext leaves this module only as
`SecretStr`, and is registered with the redactor the moment it is decrypted.

Every change (added, validated, removed, rotated; for connected accounts connected,
refreshed, refresh failed, disconnected) goes through this store, from the chat, the agent
or the CLI, and appends its audit row in the same transaction: no change without its row.
The row names the provider, the label, the last four characters and the actor (the user,
or "cli"), never the key. Connected accounts (OAuth grants, their refresh tokens) are the
methods of `vault.oauth_grants.OAuthGrantStore`, which this store extends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import SecretStr
from sqlalchemy import delete, select

from vault.credential_rows import (
    DEFAULT_LABEL,
    USER,
    Action,
    CredentialView,
    Validation,
    binding_of,
    sealed_of,
    view_of,
)
from vault.envelope import SCHEMA_VERSION, open_sealed, rewrap, seal
from vault.errors import CredentialNotFound
from vault.models import Credential, Kek, OAuthPending, new_id, utcnow
from vault.oauth_grants import OAuthGrant, OAuthGrantStore, StoredGrant, rewrap_refresh
from vault.oauth_pending import rewrap_pending
from vault.providers import Provider, check_label, check_secret, display_tail, parse_provider

__all__ = [
    "DEFAULT_LABEL",
    "USER",
    "Action",
    "CredentialStore",
    "CredentialView",
    "OAuthGrant",
    "StoredGrant",
    "Validation",
]


class CredentialStore(OAuthGrantStore):
    """Pasted keys (here) and connected accounts (`vault.oauth_grants`), per user."""

    async def add(
        self,
        user_id: str,
        provider: str,
        secret: SecretStr,
        *,
        label: str = DEFAULT_LABEL,
        actor: str = USER,
    ) -> CredentialView:
        """Encrypt and store a key, replacing the user's key of the same provider and label."""
        name: Provider = parse_provider(provider)
        check_label(label)
        plain = check_secret(name, secret.get_secret_value())
        self._redactor.register(plain)
        await self._keyring.ensure_initial()
        async with self._audit.appending() as chain:
            session = chain.session
            same = (
                (Credential.user_id == user_id)
                & (Credential.provider == name)
                & (Credential.label == label)
            )
            replaced = await session.scalar(select(Credential.tail).where(same))
            await session.execute(delete(Credential).where(same))
            version, kek = await self._keyring.current(session)
            row = Credential(
                id=new_id(),
                user_id=user_id,
                provider=name,
                label=label,
                schema_version=SCHEMA_VERSION,
                tail=display_tail(name, plain),
                created_at=utcnow(),
                scopes=[],
                limits={},
            )
            sealed = seal(plain, kek=kek, kek_version=version, binding=binding_of(row))
            row.kek_version, row.wrapped_dek = sealed.kek_version, sealed.wrapped_dek
            row.nonce, row.ciphertext = sealed.nonce, sealed.ciphertext
            session.add(row)
            await self._audited(chain, "added", row, actor, replaced_tail=replaced)
        await self._stored(user_id, row.provider)
        return view_of(row)

    async def get(self, user_id: str, provider: str, *, label: str = DEFAULT_LABEL) -> SecretStr:
        """Decrypt a key for one provider call. Marks it used."""
        async with self._sessions.begin() as session:
            row = await self._row(session, user_id, provider, label)
            kek = await self._keyring.get(session, row.kek_version)
            plain = open_sealed(sealed_of(row), kek=kek, binding=binding_of(row))
            self._redactor.register(plain)
            row.last_used_at = utcnow()
        return SecretStr(plain)

    async def has(self, user_id: str, provider: str, *, label: str = DEFAULT_LABEL) -> bool:
        async with self._sessions() as session:
            try:
                await self._row(session, user_id, provider, label)
            except CredentialNotFound:
                return False
            return True

    async def describe(
        self, user_id: str, provider: str, *, label: str = DEFAULT_LABEL
    ) -> CredentialView:
        async with self._sessions() as session:
            return view_of(await self._row(session, user_id, provider, label))

    async def list(self, user_id: str) -> list[CredentialView]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Credential)
                .where(Credential.user_id == user_id)
                .order_by(Credential.provider, Credential.label)
            )
            return [view_of(row) for row in rows]

    async def remove(
        self, user_id: str, provider: str, *, label: str = DEFAULT_LABEL, actor: str = USER,
        action: Literal["removed", "disconnected"] | None = None,
        revoked: bool | None = None,
    ) -> None:  # fmt: skip
        """Delete a key. Its audit row says "disconnected" for a connected account (its
        token was revoked at the provider first, where the provider allows it: `revoked`,
        None where it does not), else "removed", unless `action` says."""
        async with self._audit.appending() as chain:
            row = await self._row(chain.session, user_id, provider, label)
            await chain.session.delete(row)
            done = action or ("disconnected" if row.connected_via else "removed")
            if revoked is None:
                await self._audited(chain, done, row, actor)
            else:
                await self._audited(chain, done, row, actor, revoked=revoked)

    async def record_validation(
        self,
        user_id: str,
        provider: str,
        result: Validation,
        *,
        label: str = DEFAULT_LABEL,
        actor: str = USER,
    ) -> CredentialView:
        async with self._audit.appending() as chain:
            row = await self._row(chain.session, user_id, provider, label)
            row.last_validated_at = utcnow()
            row.validation_ok = result.ok
            row.validation_message = self._redactor.redact(result.message)[:500]
            row.identity = result.identity
            row.scopes = list(result.scopes)
            row.limits = dict(result.limits)
            await self._audited(
                chain, "validated", row, actor, outcome="success" if result.ok else "failed",
                ok=result.ok, identity=result.identity,
            )  # fmt: skip
            return view_of(row)

    async def rotate(
        self, *, actor: str = "cli", _after_each: Callable[[int], None] | None = None
    ) -> tuple[int, int]:
        """Re-wrap every data key under a new KEK version, in one transaction, and drop KEK
        versions nothing uses any more. A crash part-way rolls back: every key stays
        readable under its old KEK. Returns (new version, keys re-wrapped). Rotation is an
        operator's command, so its rows name "cli" unless told otherwise."""
        async with self._audit.appending() as chain:
            session = chain.session
            version, kek = await self._keyring.add_version(session)
            rows = (await session.scalars(select(Credential).with_for_update())).all()
            for count, row in enumerate(rows, start=1):
                old = await self._keyring.get(session, row.kek_version)
                sealed = rewrap(
                    sealed_of(row),
                    old_kek=old,
                    new_kek=kek,
                    new_version=version,
                    binding=binding_of(row),
                )
                # A connected account's refresh token shares the row's KEK version.
                rewrap_refresh(row, old_kek=old, new_kek=kek, new_version=version)
                row.kek_version, row.wrapped_dek = sealed.kek_version, sealed.wrapped_dek
                await session.flush()
                await self._audited(chain, "rotated", row, actor, kek_version=version)
                if _after_each is not None:
                    _after_each(count)
            await rewrap_pending(session, self._keyring, version, kek)
            unused = (
                (Kek.version != version)
                & Kek.version.not_in(select(Credential.kek_version))
                & Kek.version.not_in(
                    select(OAuthPending.kek_version).where(OAuthPending.kek_version.is_not(None))
                )
            )
            retired = (await session.scalars(select(Kek.version).where(unused))).all()
            await session.execute(delete(Kek).where(unused))
        self._keyring.remember(version, kek)
        for old_version in retired:
            self._keyring.forget(old_version)
        return version, len(rows)
