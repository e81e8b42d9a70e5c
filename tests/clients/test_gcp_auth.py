"""The service-account key -> token exchange against Google's token endpoint fake: real
RS256 signatures (verified by the fake with the key's public half), caching on a fake
clock, refusals as AuthError, and no key or token in any error, repr or log."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.cloudrun import ArtifactRegistry
from tools.clients.errors import AuthError, OAuthFailed
from tools.clients.gcp_auth import GcpAuth, ServiceAccount
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from vault.settings import Settings

TOKEN_ROUTE = "POST /token"


def _auth(http: httpx.AsyncClient, settings: Settings, retry: Retry) -> GcpAuth:
    return GcpAuth(http=http, token_url=settings.google_oauth_token_url, retry=retry)


def _account(fakes: FakeStack) -> tuple[SecretStr, ServiceAccount]:
    raw = SecretStr(fakes.google_oauth.state.new_service_account())
    return raw, ServiceAccount.parse(raw)


async def test_access_token_is_cached_until_near_expiry_then_refreshed(
    fakes: FakeStack, http: httpx.AsyncClient, fake_settings: Settings, retry: Retry,
    clock: FakeClock,
) -> None:  # fmt: skip
    _, account = _account(fakes)
    auth = _auth(http, fake_settings, retry)
    first = await auth.access_token(account)
    assert first.get_secret_value() in fakes.google_oauth.state.access_tokens
    clock.current += timedelta(minutes=50)
    assert (await auth.access_token(account)).get_secret_value() == first.get_secret_value()
    assert len(fakes.google_oauth.calls_to(TOKEN_ROUTE)) == 1
    clock.current += timedelta(minutes=6)  # inside the 5-minute margin of 3599 s
    second = await auth.access_token(account)
    assert second.get_secret_value() != first.get_secret_value()
    assert len(fakes.google_oauth.calls_to(TOKEN_ROUTE)) == 2


async def test_id_token_is_minted_for_the_audience_and_cached_per_audience(
    fakes: FakeStack, http: httpx.AsyncClient, fake_settings: Settings, retry: Retry
) -> None:
    _, account = _account(fakes)
    auth = _auth(http, fake_settings, retry)
    a = await auth.id_token(account, "https://svc-a.example")
    assert (await auth.id_token(account, "https://svc-a.example")) == a
    b = await auth.id_token(account, "https://svc-b.example")
    issued = fakes.google_oauth.state.id_tokens
    assert issued[a.get_secret_value()].audience == "https://svc-a.example"
    assert issued[b.get_secret_value()].audience == "https://svc-b.example"
    assert len(fakes.google_oauth.calls_to(TOKEN_ROUTE)) == 2


async def test_a_revoked_key_is_an_auth_error_that_says_what_to_do(
    fakes: FakeStack, http: httpx.AsyncClient, fake_settings: Settings, retry: Retry,
    all_logs: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    raw, account = _account(fakes)
    fakes.google_oauth.state.revoke(account.email)
    with pytest.raises(AuthError) as caught:
        await _auth(http, fake_settings, retry).access_token(account)
    err = caught.value
    assert isinstance(err, OAuthFailed) and err.code == "invalid_grant" and err.status == 400
    assert "Create a new JSON key" in str(err)
    _assert_hidden(raw, [str(err), repr(err), all_logs.text])


async def test_an_invalid_client_401_is_an_auth_error(
    fakes: FakeStack, http: httpx.AsyncClient, fake_settings: Settings, retry: Retry
) -> None:
    _, account = _account(fakes)
    fakes.google_oauth.fail(TOKEN_ROUTE, 401, message="The OAuth client was not found.")
    with pytest.raises(AuthError, match="401 invalid_client"):
        await _auth(http, fake_settings, retry).access_token(account)


async def test_the_token_url_is_ours_not_the_key_files(
    fakes: FakeStack, http: httpx.AsyncClient, fake_settings: Settings, retry: Retry
) -> None:
    raw = fakes.google_oauth.state.new_service_account(token_uri="https://attacker.invalid/t")
    account = ServiceAccount.parse(SecretStr(raw))
    assert await _auth(http, fake_settings, retry).access_token(account)


def test_a_file_that_is_not_a_service_account_key_is_refused_without_its_text() -> None:
    planted = "PLANTED-not-a-key-0123456789"
    with pytest.raises(AuthError) as caught:
        ServiceAccount.parse(SecretStr(json.dumps({"type": "user", "secret": planted})))
    assert planted not in str(caught.value) and planted not in repr(caught.value)


async def test_secrets_stay_out_of_repr_and_logs(
    fakes: FakeStack, http: httpx.AsyncClient, fake_settings: Settings, retry: Retry,
    all_logs: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    raw, account = _account(fakes)
    auth = _auth(http, fake_settings, retry)
    token = await auth.access_token(account)
    texts = [repr(account), str(account), repr(auth), repr(token), all_logs.text]
    _assert_hidden(raw, texts)
    assert all(token.get_secret_value() not in t for t in texts)


async def test_artifact_registry_handshake_opens_with_the_access_token(
    fakes: FakeStack, http: httpx.AsyncClient, fake_settings: Settings, retry: Retry
) -> None:
    _, account = _account(fakes)
    token = await _auth(http, fake_settings, retry).access_token(account)
    registry = ArtifactRegistry(http=http, base_url=fake_settings.artifact_registry_base_url,
                                retry=retry)  # fmt: skip
    await registry.check_access(token)
    assert len(fakes.artifact_registry.registry_tokens) == 1
    with pytest.raises(AuthError):
        await registry.check_access(SecretStr("ya29.not-issued-by-google"))


def _assert_hidden(raw: SecretStr, texts: list[str]) -> None:
    key = json.loads(raw.get_secret_value())["private_key"]
    body = "".join(key.splitlines()[1:-1])  # the PEM's base64, as one string
    for text in texts:
        assert key not in text and body[:40] not in text, "private key leaked"


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
