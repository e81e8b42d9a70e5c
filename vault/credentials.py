"""Encrypted, per-user credentials.

Every operation takes the owning `user_id` and filters on it in SQL, so one user can never
read, list, validate or delete another user's keys. Plaintext leaves this module only as
`SecretStr`, and is registered with the redactor the moment it is decrypted.

Every change (added, validated, removed, rotated) goes through this store, from the chat,
the agent or the CLI, and appends its audit row in the same transaction: no change without
its row. The row names the provider, the label, the last four characters and the actor
(the user, or "cli"), never the key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.audit import Appending, AuditLog, Outcome
from vault.envelope import SCHEMA_VERSION, RecordBinding, Sealed, open_sealed, rewrap, seal
from vault.errors import CredentialNotFound
from vault.keyring import Keyring
from vault.models import Credential, Kek, new_id, utcnow
from vault.providers import Provider, check_label, check_secret, display_tail, parse_provider
from vault.redact import REDACTOR, Redactor

DEFAULT_LABEL = "default"


class CredentialView(BaseModel):
    """What may be shown about a stored key: never the key itself."""

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

    @property
    def masked(self) -> str:
        return f"••••{self.tail}"


class Validation(BaseModel):
    ok: bool
    message: str
    identity: str | None = None
    scopes: list[str] = []
    limits: dict[str, Any] = {}


def _label_note(label: str) -> str:
    return "" if label == DEFAULT_LABEL else f" labelled {label!r}"


def _binding(row: Credential) -> RecordBinding:
    return RecordBinding(row.user_id, row.provider, row.label, row.id, row.schema_version)


def _sealed(row: Credential) -> Sealed:
    return Sealed(row.kek_version, row.wrapped_dek, row.nonce, row.ciphertext)


def _view(row: Credential) -> CredentialView:
    return CredentialView.model_validate(row, from_attributes=True)


Action = Literal["added", "validated", "removed", "rotated"]
# Who made a change: the owner, through the app (chat, panels, the agent's checks), unless
# the caller says otherwise; the CLI says "cli".
USER = "user"


class CredentialStore:
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

    async def _audited(
        self, chain: Appending, action: Action, row: Credential, actor: str, *,
        outcome: Outcome = "success", **more: object,
    ) -> None:  # fmt: skip
        facts = {"provider": row.provider, "label": row.label, "tail": row.tail, "actor": actor}
        summary = f"{row.provider} key {row.label!r} ending in {row.tail} {action} by {actor}"
        await chain.append(self._audit.credential_row(
            action, user_id=row.user_id, facts=facts | more, outcome=outcome, summary=summary,
        ))  # fmt: skip

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
            sealed = seal(plain, kek=kek, kek_version=version, binding=_binding(row))
            row.kek_version, row.wrapped_dek = sealed.kek_version, sealed.wrapped_dek
            row.nonce, row.ciphertext = sealed.nonce, sealed.ciphertext
            session.add(row)
            await self._audited(chain, "added", row, actor, replaced_tail=replaced)
        return _view(row)

    async def _row(
        self, session: AsyncSession, user_id: str, provider: str, label: str
    ) -> Credential:
        name = parse_provider(provider)
        row = await session.scalar(
            select(Credential).where(
                Credential.user_id == user_id,
                Credential.provider == name,
                Credential.label == label,
            )
        )
        if row is None:
            raise CredentialNotFound(
                f"no {name} key{_label_note(label)} is stored; add one with"
                f" `kriptik keys add {name}` or paste it in the chat"
            )
        return row

    async def get(self, user_id: str, provider: str, *, label: str = DEFAULT_LABEL) -> SecretStr:
        """Decrypt a key for one provider call. Marks it used."""
        async with self._sessions.begin() as session:
            row = await self._row(session, user_id, provider, label)
            kek = await self._keyring.get(session, row.kek_version)
            plain = open_sealed(_sealed(row), kek=kek, binding=_binding(row))
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
            return _view(await self._row(session, user_id, provider, label))

    async def list(self, user_id: str) -> list[CredentialView]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Credential)
                .where(Credential.user_id == user_id)
                .order_by(Credential.provider, Credential.label)
            )
            return [_view(row) for row in rows]

    async def remove(
        self, user_id: str, provider: str, *, label: str = DEFAULT_LABEL, actor: str = USER
    ) -> None:
        async with self._audit.appending() as chain:
            row = await self._row(chain.session, user_id, provider, label)
            await chain.session.delete(row)
            await self._audited(chain, "removed", row, actor)

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
            return _view(row)

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
                    _sealed(row),
                    old_kek=old,
                    new_kek=kek,
                    new_version=version,
                    binding=_binding(row),
                )
                row.kek_version, row.wrapped_dek = sealed.kek_version, sealed.wrapped_dek
                await session.flush()
                await self._audited(chain, "rotated", row, actor, kek_version=version)
                if _after_each is not None:
                    _after_each(count)
            unused = (Kek.version != version) & Kek.version.not_in(select(Credential.kek_version))
            retired = (await session.scalars(select(Kek.version).where(unused))).all()
            await session.execute(delete(Kek).where(unused))
        self._keyring.remember(version, kek)
        for old_version in retired:
            self._keyring.forget(old_version)
        return version, len(rows)
