"""OpenRouter's PKCE key exchange, the real client against the OpenRouter fake (the
exchange is checked against `exchangeAuthCodeForAPIKey` in the published spec): the key
works and shows its limit and usage; a wrong verifier or a used code is refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.oauth_tokens import OAuthFailed, Pkce, new_pkce
from tools.clients.openrouter import OpenRouterClient
from tools.clients.openrouter_oauth import OpenRouterKeyExchange
from tools.simulator.all import FakeStack

CALLBACK = "http://127.0.0.1:8000/connect/openrouter/callback"


def _flow(fakes: FakeStack, http: httpx.AsyncClient) -> OpenRouterKeyExchange:
    base = fakes.url("openrouter")
    return OpenRouterKeyExchange(http=http, web_base_url=base, api_base_url=base + "/api/v1")


async def _approve(fakes: FakeStack, http: httpx.AsyncClient, pkce: Pkce) -> dict[str, str]:
    resp = await http.get(_flow(fakes, http).auth_url(callback_url=CALLBACK, pkce=pkce))
    assert resp.status_code == 302, resp.text
    assert resp.headers["location"].startswith(CALLBACK + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["location"]).query).items()}


async def test_the_exchanged_key_works_and_shows_its_limit(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    pkce = new_pkce()
    url = _flow(fakes, http).auth_url(callback_url=CALLBACK, pkce=pkce)
    assert parse_qs(urlsplit(url).query) == {
        "callback_url": [CALLBACK], "code_challenge": [pkce.challenge],
        "code_challenge_method": ["S256"],
    }  # fmt: skip
    fakes.openrouter.new_key_limit = 15.0
    back = await _approve(fakes, http, pkce)
    key = await _flow(fakes, http).exchange(back["code"], pkce=pkce)
    assert key.get_secret_value().startswith("sk-or-v1-") and len(key.get_secret_value()) == 73
    call = fakes.openrouter.calls_to("POST /api/v1/auth/keys")[0]
    assert call.json() == {"code": back["code"], "code_verifier": pkce.verifier.get_secret_value(),
                           "code_challenge_method": "S256"}  # fmt: skip
    info = await OpenRouterClient(http=http, base_url=fakes.url("openrouter") + "/api/v1",
                                  token=key, retry=retry).key()  # fmt: skip
    assert (info.limit, info.usage, info.limit_remaining) == (15.0, 0.0, 15.0)


async def test_a_wrong_verifier_or_a_used_code_is_refused(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    pkce = new_pkce()
    back = await _approve(fakes, http, pkce)
    with pytest.raises(OAuthFailed) as wrong:
        await _flow(fakes, http).exchange(back["code"], pkce=new_pkce())
    assert (wrong.value.code, wrong.value.status) == ("invalid_grant", 403)
    assert str(wrong.value) == (
        "OpenRouter did not accept the sign-in (the code expired, was already used, or does "
        "not match this attempt). Connect OpenRouter again."
    )
    back = await _approve(fakes, http, pkce)
    await _flow(fakes, http).exchange(back["code"], pkce=pkce)
    with pytest.raises(OAuthFailed) as used:
        await _flow(fakes, http).exchange(back["code"], pkce=pkce)
    assert used.value.code == "invalid_grant"


async def test_denial_and_a_bad_callback(fakes: FakeStack, http: httpx.AsyncClient) -> None:
    fakes.openrouter.oauth.deny_next = True
    assert (await _approve(fakes, http, new_pkce())) == {"error": "access_denied"}
    url = _flow(fakes, http).auth_url(callback_url="http://evil.example/cb", pkce=new_pkce())
    assert (await http.get(url)).status_code == 400


async def test_the_key_and_verifier_never_reach_errors_or_logs(
    fakes: FakeStack, http: httpx.AsyncClient, all_logs: pytest.LogCaptureFixture
) -> None:
    pkce = new_pkce()
    back = await _approve(fakes, http, pkce)
    all_logs.clear()  # the browser's redirect carries the code; from here on it is ours
    flow = _flow(fakes, http)
    key: SecretStr = await flow.exchange(back["code"], pkce=pkce)
    with pytest.raises(OAuthFailed) as caught:
        await flow.exchange(back["code"], pkce=pkce)
    secrets = [key.get_secret_value(), pkce.verifier.get_secret_value(), back["code"]]
    seen = " ".join([str(caught.value), repr(caught.value), repr(key), repr(flow), all_logs.text])
    assert not [s for s in secrets if s in seen]
