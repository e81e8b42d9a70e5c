"""The master key and the versioned key-encryption keys (KEKs) it protects.

    master key (KRIPTIK_MASTER_KEY, or a 0600 key file in KRIPTIK_HOME)
      └── wraps KEK v1, v2, ... (table `keks`; shared by every instance on one database)
            └── wrap per-secret data keys (table `credentials`)

Keeping KEKs in the database, wrapped, lets several instances share a vault with only
the master key in their environment, and makes KEK rotation a database transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.envelope import new_key
from vault.errors import DecryptError, MasterKeyError
from vault.models import Kek

KEY_FILE_NAME = "master.key"
_NONCE = 12


@dataclass(frozen=True)
class MasterKey:
    material: bytes = field(repr=False)
    source: str  # "setting" or the key file path, for messages

    def fingerprint(self) -> str:
        return hmac.new(
            self.material, b"kriptik master key fingerprint", hashlib.sha256
        ).hexdigest()[:16]

    def derive(self, info: bytes) -> bytes:
        """A 32-byte subkey for one purpose (HKDF-SHA256; `info` names the purpose), so the
        master key itself only ever wraps KEKs."""
        return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(self.material)

    def __repr__(self) -> str:
        return f"MasterKey(source={self.source!r}, fingerprint={self.fingerprint()})"


def parse_master_key(text: str, *, source: str) -> MasterKey:
    """Decode a 32-byte key written as base64 (standard or URL-safe) or 64 hex digits, and
    refuse one that is weak. There is no passphrase mode and no plaintext fallback."""
    text = text.strip()
    raw: bytes | None = None
    if len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(
                text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
            )
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != 32:
        raise MasterKeyError(
            f"the master key from {source} is not 32 bytes of base64 or hex. Generate one with"
            " `kriptik vault new-key`"
        )
    # A random 32-byte key has ~30 distinct byte values; a typed or patterned one has few.
    if len(set(raw)) < 16:
        raise MasterKeyError(
            f"the master key from {source} is weak (too few distinct bytes); generate a random one"
        )
    return MasterKey(raw, source)


def load_master_key(*, setting: str | None, home: Path) -> tuple[MasterKey, bool]:
    """The master key from the setting, else from `home/master.key`, created (0600) on
    first run. Returns the key and whether the file was just created."""
    if setting is not None:
        return parse_master_key(setting, source="KRIPTIK_MASTER_KEY"), False
    path = home / KEY_FILE_NAME
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n")
        created = True
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise MasterKeyError(
            f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}` and start again"
        )
    return parse_master_key(path.read_text(), source=str(path)), created


def _kek_aad(version: int) -> bytes:
    return f"kriptik-kek|v{version}".encode()


class Keyring:
    """Versioned KEKs, unwrapped on first use and cached for the process's life."""

    def __init__(self, master: MasterKey, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._master = master
        self._sessions = sessions
        self._cache: dict[int, bytes] = {}

    def __repr__(self) -> str:
        return f"Keyring(master={self._master!r}, cached_versions={sorted(self._cache)})"

    def _unwrap(self, row: Kek) -> bytes:
        if row.master_fingerprint != self._master.fingerprint():
            raise DecryptError(f"KEK v{row.version} was made with a different master key")
        blob = row.wrapped_kek
        try:
            return AESGCM(self._master.material).decrypt(
                blob[:_NONCE], blob[_NONCE:], _kek_aad(row.version)
            )
        except (InvalidTag, ValueError):
            raise DecryptError(f"KEK v{row.version} does not unwrap") from None

    def _wrap(self, version: int, kek: bytes) -> Kek:
        nonce = os.urandom(_NONCE)
        blob = nonce + AESGCM(self._master.material).encrypt(nonce, kek, _kek_aad(version))
        return Kek(version=version, wrapped_kek=blob, master_fingerprint=self._master.fingerprint())

    async def get(self, session: AsyncSession, version: int) -> bytes:
        if version not in self._cache:
            row = await session.get(Kek, version)
            if row is None:
                raise DecryptError(f"KEK v{version} is missing")
            self._cache[version] = self._unwrap(row)
        return self._cache[version]

    async def ensure_initial(self) -> None:
        """Create KEK v1 if the vault has none. Its own short transaction, run before the
        caller's: two instances racing here both end up using the one that won."""
        async with self._sessions() as session:
            if await session.scalar(select(func.max(Kek.version))) is not None:
                return
            kek = new_key()
            session.add(self._wrap(1, kek))
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
            else:
                self._cache[1] = kek

    async def current(self, session: AsyncSession) -> tuple[int, bytes]:
        """The newest KEK. Call `ensure_initial()` first, outside the transaction."""
        version = await session.scalar(select(func.max(Kek.version)))
        if version is None:
            raise DecryptError("the vault has no key-encryption key yet")
        return version, await self.get(session, version)

    async def add_version(self, session: AsyncSession) -> tuple[int, bytes]:
        """Create the next KEK version inside the caller's transaction (used by rotation)."""
        latest = await session.scalar(select(func.max(Kek.version))) or 0
        kek = new_key()
        session.add(self._wrap(latest + 1, kek))
        await session.flush()
        return latest + 1, kek

    def remember(self, version: int, kek: bytes) -> None:
        """Cache a KEK once the transaction that created it has committed."""
        self._cache[version] = kek

    def forget(self, version: int) -> None:
        self._cache.pop(version, None)
