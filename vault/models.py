"""ORM tables of the system of record. One definition serves SQLite and PostgreSQL;
Alembic migrations in `vault/migrations` create them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out. SQLite drops the zone; we put it back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use vault.models.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # GitHub sign-in: the account's numeric id (a login name can be renamed and recycled;
    # the id is never reused), and whether an admin invited it (then no allow-list applies).
    github_id: Mapped[int | None] = mapped_column(BigInteger, unique=True, default=None)
    github_invited: Mapped[bool] = mapped_column(default=False)


class Kek(Base):
    """A key-encryption key version, itself wrapped by the master key."""

    __tablename__ = "keks"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_kek: Mapped[bytes] = mapped_column(LargeBinary)
    master_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Credential(Base):
    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("user_id", "provider", "label"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[int] = mapped_column(Integer)
    kek_version: Mapped[int] = mapped_column(ForeignKey("keks.version"))
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    tail: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    last_validated_at: Mapped[datetime | None] = mapped_column(default=None)
    validation_ok: Mapped[bool | None] = mapped_column(default=None)
    validation_message: Mapped[str | None] = mapped_column(String(500), default=None)
    identity: Mapped[str | None] = mapped_column(String(200), default=None)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # OAuth (`vault.oauth_grants`): how the credential was connected (None: a pasted key),
    # when its access token expires, and its refresh token, sealed under a data key of its
    # own but the row's KEK version (so a rotation re-wraps both at once). `needs_reconnect`:
    # a refresh failed for good; the user connects again.
    connected_via: Mapped[str | None] = mapped_column(String(16), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    refresh_wrapped_dek: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    refresh_nonce: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    refresh_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    needs_reconnect: Mapped[bool] = mapped_column(default=False)


class OAuthPending(Base):
    """An OAuth redirect flow on its way (`vault.oauth_pending`): its state, stored as a
    SHA-256 digest, bound to the user and the chat session that began it, expiring, and its
    PKCE verifier sealed like a key (none for flows without PKCE)."""

    __tablename__ = "oauth_pending"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    session_hash: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    kek_version: Mapped[int | None] = mapped_column(ForeignKey("keks.version"), default=None)
    wrapped_dek: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    nonce: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
