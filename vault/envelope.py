"""Envelope encryption with AES-256-GCM.

    secret ──AESGCM(dek, nonce, aad)──> ciphertext
    dek    ──AESGCM(kek, wrap nonce, aad|kek_version)──> wrapped_dek (= wrap nonce ‖ ct)

Each secret has its own random 256-bit data key (DEK) and 96-bit nonce. The DEK is wrapped
by a key-encryption key (KEK) of a numbered version. The AAD binds the ciphertext to its
owner, provider, name, record id and schema version, so a row copied to another user,
provider or record fails to decrypt instead of handing over someone else's key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import DecryptError

SCHEMA_VERSION = 1
_NONCE = 12
_KEY = 32


@dataclass(frozen=True)
class RecordBinding:
    """What a sealed secret is bound to. Any change breaks decryption."""

    user_id: str
    provider: str
    name: str
    record_id: str
    schema_version: int = SCHEMA_VERSION

    def aad(self) -> bytes:
        # '|' cannot appear in any field (ids are UUIDs, providers and labels are validated),
        # so the encoding is unambiguous.
        return (
            f"{self.user_id}|{self.provider}|{self.name}|{self.record_id}|{self.schema_version}"
        ).encode()


@dataclass(frozen=True)
class Sealed:
    kek_version: int
    wrapped_dek: bytes
    nonce: bytes
    ciphertext: bytes

    def __repr__(self) -> str:  # ciphertext is not secret, but it is noise in logs
        return f"Sealed(kek_version={self.kek_version}, ciphertext=<{len(self.ciphertext)} bytes>)"


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _wrap_aad(aad: bytes, kek_version: int) -> bytes:
    return b"%b|kek%d" % (aad, kek_version)


@lru_cache(maxsize=16)
def _kek_cipher(kek: bytes) -> AESGCM:
    """The KEK's cipher, built once: its key schedule costs as much as an encryption, and
    there are only a few KEK versions (the DEKs are fresh each time and cannot be cached)."""
    return AESGCM(kek)


def _wrap(kek: bytes, kek_version: int, dek: bytes, aad: bytes, nonce: bytes) -> bytes:
    return nonce + _kek_cipher(kek).encrypt(nonce, dek, _wrap_aad(aad, kek_version))


def wrap(kek: bytes, kek_version: int, dek: bytes, binding: RecordBinding) -> bytes:
    return _wrap(kek, kek_version, dek, binding.aad(), os.urandom(_NONCE))


def unwrap(kek: bytes, kek_version: int, wrapped: bytes, binding: RecordBinding) -> bytes:
    return _unwrap(kek, kek_version, wrapped, binding.aad())


def _unwrap(kek: bytes, kek_version: int, wrapped: bytes, aad: bytes) -> bytes:
    try:
        dek = _kek_cipher(kek).decrypt(
            wrapped[:_NONCE], wrapped[_NONCE:], _wrap_aad(aad, kek_version)
        )
    except (InvalidTag, ValueError):
        raise DecryptError("data key does not unwrap") from None
    if len(dek) != _KEY:
        raise DecryptError("data key has the wrong length")
    return dek


def _new_sealed(kek_version: int, wrapped_dek: bytes, nonce: bytes, ciphertext: bytes) -> Sealed:
    """`Sealed(...)` without the frozen dataclass's four `object.__setattr__` calls (a tenth
    of a seal); the result is the same frozen instance."""
    sealed = object.__new__(Sealed)
    vars(sealed).update(
        kek_version=kek_version, wrapped_dek=wrapped_dek, nonce=nonce, ciphertext=ciphertext
    )
    return sealed


def seal(secret: str, *, kek: bytes, kek_version: int, binding: RecordBinding) -> Sealed:
    # One read of the OS's randomness for the data key and both nonces.
    fresh = os.urandom(_KEY + 2 * _NONCE)
    dek, nonce, wrap_nonce = fresh[:_KEY], fresh[_KEY : _KEY + _NONCE], fresh[_KEY + _NONCE :]
    aad = binding.aad()
    ciphertext = AESGCM(dek).encrypt(nonce, secret.encode(), aad)
    wrapped = _wrap(kek, kek_version, dek, aad, wrap_nonce)
    return _new_sealed(kek_version, wrapped, nonce, ciphertext)


def open_sealed(sealed: Sealed, *, kek: bytes, binding: RecordBinding) -> str:
    aad = binding.aad()
    dek = _unwrap(kek, sealed.kek_version, sealed.wrapped_dek, aad)
    try:
        plain = AESGCM(dek).decrypt(sealed.nonce, sealed.ciphertext, aad)
    except (InvalidTag, ValueError):
        raise DecryptError("ciphertext does not authenticate") from None
    return plain.decode()


def rewrap(
    sealed: Sealed, *, old_kek: bytes, new_kek: bytes, new_version: int, binding: RecordBinding
) -> Sealed:
    """Re-wrap the data key under a new KEK. The ciphertext itself is untouched."""
    dek = unwrap(old_kek, sealed.kek_version, sealed.wrapped_dek, binding)
    return Sealed(
        new_version, wrap(new_kek, new_version, dek, binding), sealed.nonce, sealed.ciphertext
    )
