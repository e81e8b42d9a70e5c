"""Netlify OAuth 2.0, the real client against the Netlify fake: the connected token
deploys a site, and the documented faults (denied, used code, another redirect URI,
wrong client credentials)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import AuthError
from tools.clients.netlify import NetlifyClient
from tools.clients.netlify_oauth import NetlifyOAuth
from tools.clients.oauth_tokens import OAuthFailed
from tools.simulator.all import FakeStack

CALLBACK = "http://127.0.0.1:8000/connect/netlify/callback"


def _oauth(fakes: FakeStack, http: httpx.AsyncClient, secret: str | None = None) -> NetlifyOAuth:
    app = fakes.netlify.oauth_client
    return NetlifyOAuth(
        http=http, web_base_url=fakes.url("netlify"), api_base_url=fakes.url("netlify") + "/api/v1",
        client_id=app.client_id, client_secret=SecretStr(secret or app.client_secret),
    )  # fmt: skip


async def _authorize(fakes: FakeStack, http: httpx.AsyncClient) -> dict[str, str]:
    resp = await http.get(_oauth(fakes, http).authorize_url(state="st", redirect_uri=CALLBACK))
    assert resp.status_code == 302, resp.text
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["location"]).query).items()}


async def test_a_connected_token_deploys_a_site(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    url = _oauth(fakes, http).authorize_url(state="st", redirect_uri=CALLBACK)
    assert url == (
        f"{fakes.url('netlify')}/authorize?client_id={fakes.netlify.oauth_client.client_id}"
        "&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fconnect%2Fnetlify%2Fcallback"
        "&state=st"
    )
    back = await _authorize(fakes, http)
    assert back["state"] == "st"
    tokens = await _oauth(fakes, http).exchange(back["code"], redirect_uri=CALLBACK)
    assert tokens.access_token.get_secret_value().startswith("nfo_")
    assert (tokens.expires_in, tokens.refresh_token, tokens.scopes) == (None, None, ("public",))
    client = NetlifyClient(http=http, base_url=fakes.url("netlify") + "/api/v1",
                           token=tokens.access_token, retry=retry)  # fmt: skip
    assert (await client.user()).email == "dev@example.com"
    site = await client.ensure_site("connected-site")
    deploy = await client.deploy(site.id, {"index.html": b"<h1>hi</h1>"})
    assert (await client.wait_ready(site.id, deploy.id, poll_s=1)).state == "ready"
    fakes.netlify.oauth.revoke(tokens.access_token.get_secret_value())  # revoked in the UI
    with pytest.raises(AuthError):
        await client.user()


async def test_oauth_faults(fakes: FakeStack, http: httpx.AsyncClient) -> None:
    fakes.netlify.oauth.deny_next = True
    assert (await _authorize(fakes, http))["error"] == "access_denied"
    back = await _authorize(fakes, http)
    with pytest.raises(OAuthFailed) as bad_client:
        await _oauth(fakes, http, "wrong").exchange(back["code"], redirect_uri=CALLBACK)
    assert (bad_client.value.code, bad_client.value.status) == ("invalid_client", 401)
    with pytest.raises(OAuthFailed) as other_uri:
        await _oauth(fakes, http).exchange(back["code"], redirect_uri=CALLBACK + "/x")
    assert (other_uri.value.code, other_uri.value.status) == ("invalid_grant", 400)
    with pytest.raises(OAuthFailed) as used:  # spent by the attempt above
        await _oauth(fakes, http).exchange(back["code"], redirect_uri=CALLBACK)
    assert used.value.code == "invalid_grant"
    refused = await http.get(
        _oauth(fakes, http).authorize_url(state="st", redirect_uri="https://evil.example/cb")
    )
    assert refused.status_code == 400


async def test_the_token_never_reaches_errors_or_logs(
    fakes: FakeStack, http: httpx.AsyncClient, all_logs: pytest.LogCaptureFixture
) -> None:
    back = await _authorize(fakes, http)
    all_logs.clear()  # the browser's redirect carries the code; from here on it is ours
    oauth = _oauth(fakes, http)
    tokens = await oauth.exchange(back["code"], redirect_uri=CALLBACK)
    with pytest.raises(OAuthFailed) as caught:
        await oauth.exchange(back["code"], redirect_uri=CALLBACK)
    secrets = [tokens.access_token.get_secret_value(), back["code"],
               fakes.netlify.oauth_client.client_secret]  # fmt: skip
    seen = " ".join(
        [str(caught.value), repr(caught.value), repr(tokens), repr(oauth), all_logs.text]
    )
    assert not [s for s in secrets if s in seen]
