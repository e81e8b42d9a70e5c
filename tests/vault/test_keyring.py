"""The master key: from the setting or a 0600 key file, never weak, never plaintext."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from vault.errors import MasterKeyError
from vault.keyring import KEY_FILE_NAME, load_master_key, parse_master_key


def test_base64_urlsafe_and_hex_forms_parse_to_the_same_key() -> None:
    raw = os.urandom(32)
    while len(set(raw)) < 16:
        raw = os.urandom(32)
    forms = [base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode(), raw.hex()]
    assert {parse_master_key(form, source="test").material for form in forms} == {raw}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("changeme", "not 32 bytes"),
        ("", "not 32 bytes"),
        (base64.b64encode(b"a" * 32).decode(), "weak"),
        ("00" * 32, "weak"),
        (base64.b64encode(bytes(range(8)) * 4).decode(), "weak"),
        (base64.b64encode(os.urandom(16)).decode(), "not 32 bytes"),
    ],
)
def test_weak_or_malformed_keys_are_refused(text: str, reason: str) -> None:
    with pytest.raises(MasterKeyError, match=reason):
        parse_master_key(text, source="KRIPTIK_MASTER_KEY")


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key, created = load_master_key(setting=None, home=tmp_path / "home")
    path = tmp_path / "home" / KEY_FILE_NAME
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = load_master_key(setting=None, home=tmp_path / "home")
    assert not created_again
    assert again.material == key.material
    assert key.material.hex() not in repr(key)


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_master_key(setting=None, home=tmp_path)
    (tmp_path / KEY_FILE_NAME).chmod(0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        load_master_key(setting=None, home=tmp_path)


def test_the_setting_wins_over_the_key_file(tmp_path: Path) -> None:
    raw = bytes(range(32))
    key, created = load_master_key(setting=raw.hex(), home=tmp_path)
    assert key.material == raw and not created
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_the_head_constant_matches_the_migration_scripts() -> None:
    from vault.migrate import head_revision
    from vault.migrations import HEAD

    assert head_revision() == HEAD


def test_every_public_vault_name_resolves() -> None:
    import vault

    assert set(vault.__all__) == set(vault._HOME)  # pyright: ignore[reportPrivateUsage]
    for name in vault.__all__:
        assert getattr(vault, name) is not None


def test_redact_stays_the_function_after_its_module_is_imported() -> None:
    import importlib

    module = importlib.import_module("vault.redact")
    from vault import redact

    assert callable(redact) and redact is module.redact
