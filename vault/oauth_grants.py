"""Connected accounts: the tokens an OAuth flow yields, stored like any key.

```
connect(user, provider, grant)   a new grant replaces the user's credential   audit "connected"
grant(user, provider)            access + refresh token, expiry, scopes, how connected
refreshed(user, provider, grant) the new tokens of a refresh                  audit "refreshed"
needs_reconnect(user, provider)  a refresh failed for good: ask to connect    audit "refresh failed"
```

The access token is sealed exactly as a pasted key is (`vault.envelope`). The refresh
token is sealed under a data key of its own, bound to the row with the name
`<label>#refresh` (a label cannot hold `#`), so neither ciphertext can stand in for the
other; both share the row's KEK version, and a rotation re-wraps both. Every token is
registered with the redactor when it is sealed or opened. Audit rows name the provider,
the label, the last four characters, how it was connected, the scopes and the expiry,
never a token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import delete, select

from vault.credential_rows import (
    DEFAULT_LABEL,
    USER,
    CredentialRows,
    CredentialView,
    binding_of,
    sealed_of,
    view_of,
)
from vault.envelope import SCHEMA_VERSION, RecordBinding, Sealed, open_sealed, rewrap, seal
from vault.errors import InvalidSecret
from vault.models import Credential, new_id, utcnow
from vault.providers import STRUCTURED, Provider, parse_provider

__all__ = ["OAuthGrant", "OAuthGrantStore", "StoredGrant", "Via", "rewrap_refresh"]

Via = Literal["device", "github_app", "oauth", "pkce"]
# OAuth tokens are opaque strings, some longer than a pasted key may be (a JWT); the cap
# still stops a runaway value from being stored.
_MAX_OAUTH_TOKEN = 4096


class OAuthGrant(BaseModel):
    """What a connect or a refresh yields. `refresh` None on a refresh: the provider kept
    the old refresh token, which stays."""

    model_config = ConfigDict(frozen=True)

    access: SecretStr
    refresh: SecretStr | None = None
    scopes: list[str] = Field(default_factory=list[str])
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    via: Via


class StoredGrant(BaseModel):
    """A credential's tokens, as a provider call needs them. `via` None: a pasted key."""

    model_config = ConfigDict(frozen=True)

    access: SecretStr
    refresh: SecretStr | None
    expires_at: datetime | None
    refresh_expires_at: datetime | None
    scopes: list[str]
    via: Via | None
    needs_reconnect: bool
    identity: str | None
    tail: str


def _check_token(provider: Provider, token: SecretStr, what: str) -> str:
    plain = token.get_secret_value()
    if provider in STRUCTURED:
        raise InvalidSecret(f"{provider} cannot be connected through OAuth; add its key")
    if not 8 <= len(plain) <= _MAX_OAUTH_TOKEN or not plain.isprintable() or " " in plain:
        raise InvalidSecret(f"the {provider} {what} token is not a token; connect again")
    return plain


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _refresh_binding(row: Credential) -> RecordBinding:
    return RecordBinding(
        row.user_id, row.provider, f"{row.label}#refresh", row.id, row.schema_version
    )


def _refresh_sealed(row: Credential) -> Sealed | None:
    if row.refresh_wrapped_dek is None or row.refresh_nonce is None:
        return None
    if row.refresh_ciphertext is None:
        return None
    return Sealed(row.kek_version, row.refresh_wrapped_dek, row.refresh_nonce,
                  row.refresh_ciphertext)  # fmt: skip


def _store_access(row: Credential, sealed: Sealed) -> None:
    row.kek_version, row.wrapped_dek = sealed.kek_version, sealed.wrapped_dek
    row.nonce, row.ciphertext = sealed.nonce, sealed.ciphertext


def _store_refresh(row: Credential, sealed: Sealed | None) -> None:
    row.refresh_wrapped_dek = sealed.wrapped_dek if sealed else None
    row.refresh_nonce = sealed.nonce if sealed else None
    row.refresh_ciphertext = sealed.ciphertext if sealed else None


def rewrap_refresh(row: Credential, *, old_kek: bytes, new_kek: bytes, new_version: int) -> None:
    """Re-wrap the row's refresh token's data key for a rotation (call before the row's
    `kek_version` changes; a pasted key has none)."""
    sealed = _refresh_sealed(row)
    if sealed is not None:
        moved = rewrap(sealed, old_kek=old_kek, new_kek=new_kek, new_version=new_version,
                       binding=_refresh_binding(row))  # fmt: skip
        row.refresh_wrapped_dek = moved.wrapped_dek


class OAuthGrantStore(CredentialRows):
    """The OAuth half of `vault.credentials.CredentialStore`."""

    def _checked(self, provider: Provider, grant: OAuthGrant) -> tuple[str, str | None]:
        """The grant's access and refresh tokens, checked for shape and registered with
        the redactor before anything can echo them."""
        access = _check_token(provider, grant.access, "access")
        refresh = _check_token(provider, grant.refresh, "refresh") if grant.refresh else None
        for plain in (access, refresh):
            if plain is not None:
                self._redactor.register(plain)
        return access, refresh

    async def connect(
        self, user_id: str, provider: str, grant: OAuthGrant, *, actor: str = USER,
        label: str = DEFAULT_LABEL,
    ) -> CredentialView:  # fmt: skip
        """Store a new grant, replacing the user's key (pasted or connected) of that
        provider. Audit "connected"."""
        name = parse_provider(provider)
        access, refresh = self._checked(name, grant)
        await self._keyring.ensure_initial()
        async with self._audit.appending() as chain:
            session = chain.session
            same = ((Credential.user_id == user_id) & (Credential.provider == name)
                    & (Credential.label == label))  # fmt: skip
            replaced = await session.scalar(select(Credential.tail).where(same))
            await session.execute(delete(Credential).where(same))
            row = Credential(
                id=new_id(), user_id=user_id, provider=name, label=label,
                schema_version=SCHEMA_VERSION, tail=access[-4:], created_at=utcnow(),
                scopes=list(grant.scopes), limits={}, connected_via=grant.via,
                expires_at=grant.expires_at, refresh_expires_at=grant.refresh_expires_at,
                needs_reconnect=False,
            )  # fmt: skip
            version, kek = await self._keyring.current(session)
            _store_access(row, seal(access, kek=kek, kek_version=version, binding=binding_of(row)))
            if refresh is not None:
                _store_refresh(row, seal(refresh, kek=kek, kek_version=version,
                                         binding=_refresh_binding(row)))  # fmt: skip
            session.add(row)
            await self._audited(chain, "connected", row, actor, replaced_tail=replaced,
                                via=grant.via, scopes=list(grant.scopes),
                                expires_at=_when(grant.expires_at))  # fmt: skip
        await self._stored(user_id, row.provider)
        return view_of(row)

    async def grant(
        self, user_id: str, provider: str, *, label: str = DEFAULT_LABEL
    ) -> StoredGrant:
        """The credential's tokens (a pasted key's too: `via` None, no refresh token), for
        one provider call or a refresh. Marks it used."""
        async with self._sessions.begin() as session:
            row = await self._row(session, user_id, provider, label)
            kek = await self._keyring.get(session, row.kek_version)
            access = open_sealed(sealed_of(row), kek=kek, binding=binding_of(row))
            self._redactor.register(access)
            refresh: str | None = None
            if (sealed := _refresh_sealed(row)) is not None:
                refresh = open_sealed(sealed, kek=kek, binding=_refresh_binding(row))
                self._redactor.register(refresh)
            row.last_used_at = utcnow()
            via: Via | None = row.connected_via  # pyright: ignore[reportAssignmentType]
            return StoredGrant(
                access=SecretStr(access), refresh=SecretStr(refresh) if refresh else None,
                expires_at=row.expires_at, refresh_expires_at=row.refresh_expires_at,
                scopes=list(row.scopes), via=via, needs_reconnect=row.needs_reconnect,
                identity=row.identity, tail=row.tail,
            )  # fmt: skip

    async def refreshed(
        self, user_id: str, provider: str, grant: OAuthGrant, *, actor: str = USER,
        label: str = DEFAULT_LABEL,
    ) -> CredentialView:  # fmt: skip
        """Store the tokens of a refresh: a new access token (and a new refresh token when
        the provider rotated it; otherwise the old one stays). Audit "refreshed"."""
        name = parse_provider(provider)
        access, refresh = self._checked(name, grant)
        await self._keyring.ensure_initial()
        async with self._audit.appending() as chain:
            session = chain.session
            row = await self._row(session, user_id, name, label, for_update=True)
            old_kek = await self._keyring.get(session, row.kek_version)
            version, kek = await self._keyring.current(session)
            if refresh is not None:
                _store_refresh(row, seal(refresh, kek=kek, kek_version=version,
                                         binding=_refresh_binding(row)))  # fmt: skip
            else:  # the kept refresh token moves to the KEK version the access token takes
                rewrap_refresh(row, old_kek=old_kek, new_kek=kek, new_version=version)
            _store_access(row, seal(access, kek=kek, kek_version=version, binding=binding_of(row)))
            row.tail, row.expires_at = access[-4:], grant.expires_at
            if grant.refresh_expires_at is not None or refresh is not None:
                row.refresh_expires_at = grant.refresh_expires_at
            if grant.scopes:
                row.scopes = list(grant.scopes)
            row.needs_reconnect = False
            await self._audited(
                chain, "refreshed", row, actor, via=row.connected_via, scopes=list(row.scopes),
                expires_at=_when(row.expires_at),
            )  # fmt: skip
            return view_of(row)

    async def needs_reconnect(
        self, user_id: str, provider: str, reason: str, *, actor: str = USER,
        label: str = DEFAULT_LABEL,
    ) -> None:  # fmt: skip
        """A refresh failed for good (revoked, expired refresh token): mark the credential,
        so the next use asks the user to connect again. Audit "refresh failed"."""
        async with self._audit.appending() as chain:
            row = await self._row(chain.session, user_id, provider, label, for_update=True)
            row.needs_reconnect = True
            row.validation_ok = False
            row.validation_message = self._redactor.redact(reason)[:500]
            row.last_validated_at = utcnow()
            await self._audited(chain, "refresh_failed", row, actor, outcome="failed",
                                reason=row.validation_message)  # fmt: skip
