"""Sign in with Vercel (OAuth 2.0 + PKCE), the real client against the Vercel fake: the
connected token deploys, refreshes before it expires, and every documented fault."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import AuthError
from tools.clients.oauth_tokens import OAuthFailed, Pkce, TokenSet, new_pkce
from tools.clients.vercel import VercelClient
from tools.clients.vercel_oauth import VercelOAuth
from tools.simulator.all import FakeStack

CALLBACK = "http://127.0.0.1:8000/connect/vercel/callback"


def _oauth(fakes: FakeStack, http: httpx.AsyncClient, secret: str | None = None) -> VercelOAuth:
    app = fakes.vercel.oauth_client
    return VercelOAuth(
        http=http, web_base_url=fakes.url("vercel"), api_base_url=fakes.url("vercel"),
        client_id=app.client_id, client_secret=SecretStr(secret or app.client_secret),
    )  # fmt: skip


async def _authorize(
    fakes: FakeStack, http: httpx.AsyncClient, pkce: Pkce, scopes: tuple[str, ...] = ()
) -> dict[str, str]:
    url = _oauth(fakes, http).authorize_url(state="st", redirect_uri=CALLBACK, pkce=pkce,
                                            scopes=scopes)  # fmt: skip
    resp = await http.get(url)
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def _connect(fakes: FakeStack, http: httpx.AsyncClient) -> TokenSet:
    pkce = new_pkce()
    back = await _authorize(fakes, http, pkce)
    assert back["state"] == "st"
    return await _oauth(fakes, http).exchange(back["code"], redirect_uri=CALLBACK, pkce=pkce)


def _api(fakes: FakeStack, http: httpx.AsyncClient, token: SecretStr, retry: Retry) -> VercelClient:
    return VercelClient(http=http, base_url=fakes.url("vercel"), token=token, retry=retry)


async def test_the_authorize_url_carries_the_pkce_challenge(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    pkce = new_pkce()
    url = _oauth(fakes, http).authorize_url(state="st", redirect_uri=CALLBACK, pkce=pkce,
                                            scopes=("openid", "offline_access"))  # fmt: skip
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{fakes.url('vercel')}/oauth/authorize?")
    assert query == {"client_id": fakes.vercel.oauth_client.client_id, "redirect_uri": CALLBACK,
                     "response_type": "code", "state": "st", "code_challenge": pkce.challenge,
                     "code_challenge_method": "S256", "scope": "openid offline_access"}  # fmt: skip
    assert pkce.verifier.get_secret_value() not in url


async def test_a_connected_token_deploys(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    tokens = await _connect(fakes, http)
    assert tokens.access_token.get_secret_value().startswith("vca_")
    assert tokens.refresh_token is not None
    assert (tokens.token_type, tokens.expires_in) == ("Bearer", 3600)
    assert "offline_access" in tokens.scopes
    client = _api(fakes, http, tokens.access_token, retry)
    assert (await client.user()).username == "kriptik-dev"
    deployment = await client.deploy("connected-app", {"index.html": b"<h1>hi</h1>"})
    assert (await client.wait_ready(deployment.id, poll_s=1)).ready_state == "READY"


async def test_an_expired_token_is_refreshed_and_the_refresh_token_rotates(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    tokens = await _connect(fakes, http)
    assert tokens.refresh_token is not None
    fakes.vercel.oauth.expire_access(tokens.access_token.get_secret_value())
    with pytest.raises(AuthError):
        await _api(fakes, http, tokens.access_token, retry).user()
    fresh = await _oauth(fakes, http).refresh(tokens.refresh_token)
    assert fresh.refresh_token is not None and fresh.refresh_token != tokens.refresh_token
    assert (await _api(fakes, http, fresh.access_token, retry).user()).username == "kriptik-dev"
    with pytest.raises(OAuthFailed) as reused:
        await _oauth(fakes, http).refresh(tokens.refresh_token)
    assert reused.value.code == "invalid_grant"


async def test_a_revoked_refresh_token_is_invalid_grant(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    tokens = await _connect(fakes, http)
    assert tokens.refresh_token is not None
    fakes.vercel.oauth.revoke_refresh(tokens.refresh_token.get_secret_value())
    with pytest.raises(OAuthFailed) as caught:
        await _oauth(fakes, http).refresh(tokens.refresh_token)
    assert (caught.value.code, caught.value.status) == ("invalid_grant", 400)
    assert str(caught.value) == (
        "Vercel did not accept the sign-in (the code expired, was already used, or does not "
        "match this attempt). Connect Vercel again."
    )


async def test_a_wrong_pkce_verifier_is_invalid_grant(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    pkce = new_pkce()
    back = await _authorize(fakes, http, pkce)
    with pytest.raises(OAuthFailed) as caught:
        await _oauth(fakes, http).exchange(back["code"], redirect_uri=CALLBACK, pkce=new_pkce())
    assert caught.value.code == "invalid_grant"
    with pytest.raises(OAuthFailed):  # the code was spent by the failed attempt
        await _oauth(fakes, http).exchange(back["code"], redirect_uri=CALLBACK, pkce=pkce)


async def test_denial_and_client_faults(fakes: FakeStack, http: httpx.AsyncClient) -> None:
    fakes.vercel.oauth.deny_next = True
    denied = await _authorize(fakes, http, new_pkce())
    assert (denied["error"], denied["state"]) == ("access_denied", "st")
    pkce = new_pkce()
    back = await _authorize(fakes, http, pkce)
    with pytest.raises(OAuthFailed) as bad_client:
        await _oauth(fakes, http, "wrong").exchange(back["code"], redirect_uri=CALLBACK, pkce=pkce)
    assert (bad_client.value.code, bad_client.value.status) == ("invalid_client", 401)
    fakes.vercel.oauth.redirect_uris = {"https://kriptik.example/connect/vercel/callback"}
    refused = await http.get(_oauth(fakes, http).authorize_url(
        state="st", redirect_uri=CALLBACK, pkce=pkce, scopes=()))  # fmt: skip
    assert refused.status_code == 400  # an unregistered callback gets no redirect


async def test_without_offline_access_there_is_no_refresh_token(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    pkce = new_pkce()
    back = await _authorize(fakes, http, pkce, scopes=("openid", "email"))
    tokens = await _oauth(fakes, http).exchange(back["code"], redirect_uri=CALLBACK, pkce=pkce)
    assert (tokens.scopes, tokens.refresh_token) == (("openid", "email"), None)


async def test_revoke_ends_the_connection(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    tokens = await _connect(fakes, http)
    assert tokens.refresh_token is not None
    assert await _oauth(fakes, http).revoke(tokens.access_token)
    with pytest.raises(AuthError):
        await _api(fakes, http, tokens.access_token, retry).user()
    with pytest.raises(OAuthFailed):
        await _oauth(fakes, http).refresh(tokens.refresh_token)


async def test_tokens_and_verifier_never_reach_errors_reprs_or_logs(
    fakes: FakeStack, http: httpx.AsyncClient, all_logs: pytest.LogCaptureFixture
) -> None:
    pkce = new_pkce()
    back = await _authorize(fakes, http, pkce)
    oauth = _oauth(fakes, http)
    tokens = await oauth.exchange(back["code"], redirect_uri=CALLBACK, pkce=pkce)
    assert tokens.refresh_token is not None
    fakes.vercel.oauth.revoke_refresh(tokens.refresh_token.get_secret_value())
    with pytest.raises(OAuthFailed) as caught:
        await oauth.refresh(tokens.refresh_token)
    secrets = [tokens.access_token.get_secret_value(), tokens.refresh_token.get_secret_value(),
               pkce.verifier.get_secret_value(), fakes.vercel.oauth_client.client_secret]  # fmt: skip
    seen = " ".join([str(caught.value), repr(caught.value), repr(tokens), repr(pkce), repr(oauth),
                     all_logs.text])  # fmt: skip
    assert not [s for s in secrets if s in seen]
