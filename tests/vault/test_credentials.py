"""Stored credentials on SQLite and PostgreSQL: round trip, isolation between users,
masked listing, bad input, wrong master key, moved rows, and transactional rotation."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from tests.conftest import new_master_key
from vault import (
    CredentialNotFound,
    DecryptError,
    InvalidSecret,
    Settings,
    UnknownProvider,
    Validation,
    Vault,
)
from vault.models import Credential, Kek

KEY = SecretStr("rpa_TESTKEY0123456789abcdef7Hq2")


async def _user(vault: Vault, name: str) -> str:
    return (await vault.users.create(name, SecretStr("correct horse battery"))).id


async def test_add_get_list_remove(vault: Vault) -> None:
    alice = await _user(vault, "alice")
    view = await vault.credentials.add(alice, "runpod", KEY)
    assert view.tail == "7Hq2" and view.masked == "••••7Hq2"
    assert (
        await vault.credentials.get(alice, "RunPod")
    ).get_secret_value() == KEY.get_secret_value()
    [listed] = await vault.credentials.list(alice)
    assert listed.provider == "runpod" and listed.last_used_at is not None
    assert KEY.get_secret_value() not in listed.model_dump_json()
    await vault.credentials.remove(alice, "runpod")
    assert await vault.credentials.list(alice) == []
    with pytest.raises(CredentialNotFound, match="kriptik keys add runpod"):
        await vault.credentials.get(alice, "runpod")


async def test_adding_again_replaces_and_labels_are_separate(vault: Vault) -> None:
    alice = await _user(vault, "alice")
    await vault.credentials.add(alice, "github", SECRET_A)
    await vault.credentials.add(alice, "github", SECRET_B)
    await vault.credentials.add(alice, "github", SECRET_A, label="work")
    assert (await vault.credentials.get(alice, "github")) == SECRET_B
    assert (await vault.credentials.get(alice, "github", label="work")) == SECRET_A
    assert [v.label for v in await vault.credentials.list(alice)] == ["default", "work"]


SECRET_A = SecretStr("ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
SECRET_B = SecretStr("ghp_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")


async def test_one_user_cannot_reach_another_users_keys(vault: Vault) -> None:
    alice, bob = await _user(vault, "alice"), await _user(vault, "bob")
    await vault.credentials.add(alice, "huggingface", SecretStr("hf_alice_0000000000000000"))
    assert await vault.credentials.list(bob) == []
    assert not await vault.credentials.has(bob, "huggingface")
    with pytest.raises(CredentialNotFound):
        await vault.credentials.get(bob, "huggingface")
    with pytest.raises(CredentialNotFound):
        await vault.credentials.remove(bob, "huggingface")
    with pytest.raises(CredentialNotFound):
        await vault.credentials.record_validation(
            bob, "huggingface", Validation(ok=True, message="x")
        )
    assert len(await vault.credentials.list(alice)) == 1


async def test_a_row_moved_to_another_user_does_not_decrypt(vault: Vault) -> None:
    alice, bob = await _user(vault, "alice"), await _user(vault, "bob")
    await vault.credentials.add(alice, "vercel", SecretStr("vercel_token_alice_123"))
    async with vault.sessions.begin() as session:
        await session.execute(update(Credential).values(user_id=bob))
    with pytest.raises(DecryptError, match="cannot decrypt: the master key or the record changed"):
        await vault.credentials.get(bob, "vercel")


async def test_a_changed_ciphertext_is_detected_and_nothing_is_overwritten(vault: Vault) -> None:
    alice = await _user(vault, "alice")
    await vault.credentials.add(alice, "netlify", SecretStr("nfp_abcdefghijklmnopqrstuvwxyz"))
    async with vault.sessions.begin() as session:
        row = await session.scalar(select(Credential))
        assert row is not None
        row.ciphertext = bytes([row.ciphertext[0] ^ 0x80]) + row.ciphertext[1:]
        tampered = row.ciphertext
    with pytest.raises(DecryptError):
        await vault.credentials.get(alice, "netlify")
    async with vault.sessions() as session:
        assert (await session.scalar(select(Credential.ciphertext))) == tampered


async def test_a_wrong_master_key_gives_a_clear_error(vault: Vault, settings: Settings) -> None:
    alice = await _user(vault, "alice")
    await vault.credentials.add(alice, "openrouter", SecretStr("sk-or-v1-abcdefghijklmnop"))
    other = await Vault.open(
        settings.model_copy(update={"master_key": SecretStr(new_master_key())})
    )
    try:
        with pytest.raises(DecryptError, match="different master key"):
            await other.credentials.get(alice, "openrouter")
        # The record is intact for the right key.
        assert (
            (await vault.credentials.get(alice, "openrouter"))
            .get_secret_value()
            .startswith("sk-or")
        )
    finally:
        await other.close()


@pytest.mark.parametrize(
    ("provider", "secret", "reason"),
    [
        ("runpod", "", "empty"),
        ("runpod", "rpa_abc def_123456", "spaces or line breaks"),
        ("runpod", "rpa_abcdef123456\n", "spaces or line breaks"),
        ("runpod", "rpa_abc\x00def123456", "control"),
        ("runpod", "rpa_abc\u200bdef123456", "control or invisible"),
        ("runpod", "x" * 1_000_000, "did you paste a file"),
        ("runpod", "short", "only 5 characters"),
        ("aws", '{"access_key_id": "nope"}', "AKIA"),
        ("aws", "not json", "JSON object"),
        ("gcp", '{"type": "authorized_user"}', "service_account"),
    ],
)
async def test_bad_keys_are_refused_with_a_reason(
    vault: Vault, provider: str, secret: str, reason: str
) -> None:
    alice = await _user(vault, "alice")
    with pytest.raises(InvalidSecret, match=reason):
        await vault.credentials.add(alice, provider, SecretStr(secret))
    assert await vault.credentials.list(alice) == []


async def test_unknown_provider_lists_the_choices(vault: Vault) -> None:
    alice = await _user(vault, "alice")
    with pytest.raises(UnknownProvider, match="openrouter, huggingface, runpod"):
        await vault.credentials.add(alice, "dropbox", KEY)


async def test_structured_aws_secret_is_stored_and_masked_by_key_id(vault: Vault) -> None:
    alice = await _user(vault, "alice")
    secret = '{"access_key_id": "AKIAABCDEFGHIJKL1234", "secret_access_key": "s3cr3t/+abcdefghij"}'
    view = await vault.credentials.add(alice, "aws", SecretStr(secret))
    assert view.tail == "1234"
    assert (await vault.credentials.get(alice, "aws")).get_secret_value() == secret


async def test_validation_results_are_recorded(vault: Vault) -> None:
    alice = await _user(vault, "alice")
    await vault.credentials.add(alice, "openrouter", SecretStr("sk-or-v1-abcdefghijklmnop"))
    view = await vault.credentials.record_validation(
        alice,
        "openrouter",
        Validation(
            ok=True,
            message="OpenRouter key validated",
            identity="alice",
            limits={"limit_remaining": 12.5},
        ),
    )
    assert view.validation_ok and view.last_validated_at is not None
    assert (await vault.credentials.describe(alice, "openrouter")).limits == {
        "limit_remaining": 12.5
    }


async def test_rotation_rewraps_every_key_and_retires_the_old_kek(vault: Vault) -> None:
    alice, bob = await _user(vault, "alice"), await _user(vault, "bob")
    await vault.credentials.add(alice, "runpod", KEY)
    await vault.credentials.add(bob, "github", SECRET_A)
    version, count = await vault.credentials.rotate()
    assert (version, count) == (2, 2)
    async with vault.sessions() as session:
        assert list(await session.scalars(select(Kek.version))) == [2]
        assert set(await session.scalars(select(Credential.kek_version))) == {2}
    assert await vault.credentials.get(alice, "runpod") == KEY
    assert await vault.credentials.get(bob, "github") == SECRET_A


async def test_rotation_interrupted_half_way_leaves_every_key_readable(
    vault: Vault, settings: Settings
) -> None:
    alice = await _user(vault, "alice")
    keys = {
        p: SecretStr(f"{p}_key_0123456789abcdef") for p in ("runpod", "github", "vercel", "netlify")
    }
    for provider, key in keys.items():
        await vault.credentials.add(alice, provider, key)

    def crash_after_two(count: int) -> None:
        if count == 2:
            raise KeyboardInterrupt("simulated crash mid-rotation")

    with pytest.raises(KeyboardInterrupt):
        await vault.credentials.rotate(_after_each=crash_after_two)
    # A fresh process (no cached KEKs) reads every key under the untouched KEK v1.
    fresh = await Vault.open(settings)
    try:
        async with fresh.sessions() as session:
            assert list(await session.scalars(select(Kek.version))) == [1]
        for provider, key in keys.items():
            assert await fresh.credentials.get(alice, provider) == key
        assert (await fresh.credentials.rotate())[1] == 4
    finally:
        await fresh.close()
