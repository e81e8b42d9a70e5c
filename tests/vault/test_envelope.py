"""Envelope encryption: round trip, tamper detection on every field, wrong keys."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.envelope import RecordBinding, Sealed, new_key, open_sealed, rewrap, seal
from vault.errors import DecryptError

BINDING = RecordBinding("user-1", "runpod", "default", "rec-1")


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


def test_round_trip_and_fresh_randomness() -> None:
    kek = new_key()
    first = seal("rpa_secret_value", kek=kek, kek_version=1, binding=BINDING)
    second = seal("rpa_secret_value", kek=kek, kek_version=1, binding=BINDING)
    assert open_sealed(first, kek=kek, binding=BINDING) == "rpa_secret_value"
    # A fresh data key and nonce per secret: equal secrets give unrelated ciphertexts.
    assert first.ciphertext != second.ciphertext
    assert first.nonce != second.nonce
    assert first.wrapped_dek != second.wrapped_dek
    assert "rpa_secret_value" not in repr(first)


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_dek"])
def test_tampering_with_any_stored_field_is_detected(field: str) -> None:
    kek = new_key()
    sealed = seal("hf_abcdefghijklmnop", kek=kek, kek_version=1, binding=BINDING)
    tampered = dataclasses.replace(sealed, **{field: _flip(getattr(sealed, field), 5)})
    with pytest.raises(DecryptError, match="cannot decrypt: the master key or the record changed"):
        open_sealed(tampered, kek=kek, binding=BINDING)


def test_kek_version_is_bound_into_the_wrap() -> None:
    kek = new_key()
    sealed = seal("hf_abcdefghijklmnop", kek=kek, kek_version=1, binding=BINDING)
    with pytest.raises(DecryptError):
        open_sealed(dataclasses.replace(sealed, kek_version=2), kek=kek, binding=BINDING)


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": "user-2"},
        {"provider": "github"},
        {"name": "work"},
        {"record_id": "rec-2"},
        {"schema_version": 2},
    ],
)
def test_a_record_moved_to_another_owner_does_not_decrypt(change: dict[str, object]) -> None:
    kek = new_key()
    sealed = seal("ghp_abcdefghijklmnop", kek=kek, kek_version=1, binding=BINDING)
    with pytest.raises(DecryptError):
        open_sealed(sealed, kek=kek, binding=dataclasses.replace(BINDING, **change))  # type: ignore[arg-type]


def test_wrong_kek_is_refused() -> None:
    sealed = seal("sk-or-v1-abcdefgh", kek=new_key(), kek_version=1, binding=BINDING)
    with pytest.raises(DecryptError):
        open_sealed(sealed, kek=new_key(), binding=BINDING)


def test_rewrap_keeps_ciphertext_and_needs_the_new_kek() -> None:
    old, new = new_key(), new_key()
    sealed = seal("secret-value-123", kek=old, kek_version=1, binding=BINDING)
    moved = rewrap(sealed, old_kek=old, new_kek=new, new_version=2, binding=BINDING)
    assert moved.ciphertext == sealed.ciphertext and moved.kek_version == 2
    assert open_sealed(moved, kek=new, binding=BINDING) == "secret-value-123"
    with pytest.raises(DecryptError):
        open_sealed(moved, kek=old, binding=BINDING)


@given(secret=st.text(min_size=0, max_size=2000))
def test_any_text_round_trips(secret: str) -> None:
    kek = new_key()
    sealed: Sealed = seal(secret, kek=kek, kek_version=3, binding=BINDING)
    assert open_sealed(sealed, kek=kek, binding=BINDING) == secret
    if len(secret.encode()) >= 16:
        assert secret.encode() not in sealed.ciphertext
