"""Connected accounts in the vault, on SQLite and PostgreSQL: a grant is sealed like a key
(its refresh token too, under a data key and a binding of its own), refreshed in place,
marked when a refresh fails for good, re-wrapped by a KEK rotation, and every change is an
audit row ("connected", "refreshed", "refresh failed", "disconnected") that never holds a
token, in any encoding; neither does a log line or a repr."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text, update

from vault import DecryptError, InvalidSecret, Vault
from vault.audit import CREDENTIALS_THREAD
from vault.models import Credential, Kek
from vault.oauth_grants import OAuthGrant
from vault.redact import encoded_forms

ACCESS = "ghu_PlantedAccessToken0123456789abcdefWXYZ"
REFRESH = "ghr_PlantedRefreshToken0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEF"
NEW_ACCESS = "ghu_RefreshedAccessToken0123456789abcdQRST"
NEW_REFRESH = "ghr_RotatedRefreshToken0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCD"
SOON = datetime(2030, 1, 1, 8, tzinfo=UTC)


def _grant(access: str = ACCESS, refresh: str | None = REFRESH) -> OAuthGrant:
    return OAuthGrant(
        access=SecretStr(access), refresh=SecretStr(refresh) if refresh else None,
        scopes=["repo"], expires_at=SOON, refresh_expires_at=SOON + timedelta(days=180),
        via="github_app",
    )  # fmt: skip


async def _user(vault: Vault, name: str = "ann") -> str:
    return (await vault.users.create(name, SecretStr("correct horse battery"))).id


async def _everything_stored(vault: Vault) -> str:
    """Every value of every row of the credential and audit tables, as text."""
    async with vault.engine.connect() as conn:
        found: list[str] = []
        for table in ("credentials", "audit_events", "oauth_pending"):
            rows = await conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            found += [" ".join(repr(value) for value in row) for row in rows]
    return "\n".join(found)


def _absent(secret: str, haystack: str) -> None:
    for form in encoded_forms(secret):
        assert form not in haystack


async def test_a_grant_round_trips_and_is_shown_masked(vault: Vault) -> None:
    ann = await _user(vault)
    view = await vault.credentials.connect(ann, "github", _grant())
    assert view.connected_via == "github_app" and view.expires_at == SOON
    assert not view.needs_reconnect
    assert view.tail == "WXYZ" and view.scopes == ["repo"]
    stored = await vault.credentials.grant(ann, "github")
    assert stored.access.get_secret_value() == ACCESS
    assert stored.refresh is not None and stored.refresh.get_secret_value() == REFRESH
    assert (stored.via, stored.expires_at, stored.scopes) == ("github_app", SOON, ["repo"])
    assert (await vault.credentials.get(ann, "github")).get_secret_value() == ACCESS
    [listed] = await vault.credentials.list(ann)
    for shown in (listed.model_dump_json(), repr(listed), repr(stored), str(stored)):
        _absent(ACCESS, shown)
        _absent(REFRESH, shown)


async def test_a_pasted_key_has_no_grant_and_replaces_a_connection(vault: Vault) -> None:
    ann = await _user(vault)
    await vault.credentials.connect(ann, "vercel", _grant("vca_" + "a" * 40, "vcr_" + "b" * 40))
    await vault.credentials.add(ann, "vercel", SecretStr("pasted_vercel_token_123"))
    stored = await vault.credentials.grant(ann, "vercel")
    assert (stored.via, stored.refresh, stored.expires_at) == (None, None, None)
    assert (await vault.credentials.describe(ann, "vercel")).connected_via is None


async def test_a_refresh_replaces_the_access_token_and_keeps_or_rotates_the_refresh(
    vault: Vault,
) -> None:
    ann = await _user(vault)
    await vault.credentials.connect(ann, "github", _grant())
    later = SOON + timedelta(hours=8)
    kept = OAuthGrant(access=SecretStr(NEW_ACCESS), expires_at=later, via="github_app")
    view = await vault.credentials.refreshed(ann, "github", kept)
    assert view.expires_at == later and view.tail == "QRST"
    stored = await vault.credentials.grant(ann, "github")
    assert stored.access.get_secret_value() == NEW_ACCESS
    assert stored.refresh is not None and stored.refresh.get_secret_value() == REFRESH
    rotated = OAuthGrant(
        access=SecretStr(ACCESS), refresh=SecretStr(NEW_REFRESH), expires_at=later,
        via="github_app",
    )  # fmt: skip
    await vault.credentials.refreshed(ann, "github", rotated)
    stored = await vault.credentials.grant(ann, "github")
    assert stored.refresh is not None and stored.refresh.get_secret_value() == NEW_REFRESH


async def test_a_failed_refresh_marks_the_credential_until_it_is_connected_again(
    vault: Vault,
) -> None:
    ann = await _user(vault)
    await vault.credentials.connect(ann, "github", _grant())
    await vault.credentials.needs_reconnect(ann, "github", f"bad_refresh_token for {REFRESH}")
    view = await vault.credentials.describe(ann, "github")
    assert view.needs_reconnect and view.validation_ok is False
    assert view.validation_message is not None and "bad_refresh_token" in view.validation_message
    _absent(REFRESH, view.validation_message)  # a reason quoting a token is redacted
    assert (await vault.credentials.grant(ann, "github")).needs_reconnect
    await vault.credentials.connect(ann, "github", _grant(NEW_ACCESS, NEW_REFRESH))
    assert not (await vault.credentials.describe(ann, "github")).needs_reconnect


async def test_every_change_is_an_audit_row_and_none_holds_a_token(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ann = await _user(vault)
    await vault.credentials.connect(ann, "github", _grant())
    await vault.credentials.refreshed(
        ann, "github",
        OAuthGrant(access=SecretStr(NEW_ACCESS), refresh=SecretStr(NEW_REFRESH), via="github_app"),
    )  # fmt: skip
    await vault.credentials.needs_reconnect(ann, "github", "bad_refresh_token")
    await vault.credentials.rotate()
    await vault.credentials.remove(ann, "github", revoked=True)
    rows = await vault.audit.records(thread_id=CREDENTIALS_THREAD, user_id=ann)
    assert [r.tool for r in rows] == [
        "credential_connected", "credential_refreshed", "credential_refresh_failed",
        "credential_rotated", "credential_disconnected",
    ]  # fmt: skip
    assert [r.outcome for r in rows] == ["success", "success", "failed", "success", "success"]
    connected, _, failed, _, disconnected = rows
    assert json.loads(connected.args or "{}")["via"] == "github_app"
    assert failed.summary == "github key 'default' ending in QRST refresh failed by user"
    assert json.loads(disconnected.args or "{}")["revoked"] is True
    assert (await vault.audit.verify()).ok
    stored = await _everything_stored(vault)
    for secret in (ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH):
        _absent(secret, stored)
        _absent(secret, caplog.text)


async def test_a_pasted_key_is_removed_and_a_connection_disconnected(vault: Vault) -> None:
    ann = await _user(vault)
    await vault.credentials.add(ann, "runpod", SecretStr("rpa_TESTKEY0123456789abcdef7Hq2"))
    await vault.credentials.remove(ann, "runpod")
    await vault.credentials.connect(ann, "netlify", _grant("nfo_" + "n" * 40, None))
    await vault.credentials.remove(ann, "netlify")
    rows = await vault.audit.records(thread_id=CREDENTIALS_THREAD, user_id=ann)
    assert [r.tool for r in rows][-1:] == ["credential_disconnected"]
    assert "credential_removed" in [r.tool for r in rows]


async def test_rotation_rewraps_the_refresh_token_and_retires_the_old_kek(vault: Vault) -> None:
    ann = await _user(vault)
    await vault.credentials.connect(ann, "github", _grant())
    version, count = await vault.credentials.rotate()
    assert (version, count) == (2, 1)
    async with vault.sessions() as session:
        assert list(await session.scalars(select(Kek.version))) == [2]
        row = await session.scalar(select(Credential))
        assert row is not None and row.kek_version == 2
    stored = await vault.credentials.grant(ann, "github")
    assert stored.access.get_secret_value() == ACCESS
    assert stored.refresh is not None and stored.refresh.get_secret_value() == REFRESH


async def test_the_refresh_ciphertext_cannot_stand_in_for_the_access_token(vault: Vault) -> None:
    ann = await _user(vault)
    await vault.credentials.connect(ann, "github", _grant())
    async with vault.sessions.begin() as session:
        row = await session.scalar(select(Credential))
        assert row is not None
        await session.execute(
            update(Credential).values(
                wrapped_dek=row.refresh_wrapped_dek, nonce=row.refresh_nonce,
                ciphertext=row.refresh_ciphertext,
            )
        )  # fmt: skip
    with pytest.raises(DecryptError):
        await vault.credentials.grant(ann, "github")


async def test_junk_is_refused_before_anything_is_stored(vault: Vault) -> None:
    ann = await _user(vault)
    with pytest.raises(InvalidSecret):
        await vault.credentials.connect(ann, "github", _grant("short"))
    with pytest.raises(InvalidSecret):
        await vault.credentials.connect(ann, "aws", _grant())
    assert await vault.credentials.list(ann) == []
