"""The redirect flows, through `Connections` and the real clients against the fakes: the
GitHub App (expiring tokens), Sign in with Vercel (PKCE), Netlify and OpenRouter's key
exchange (PKCE, with the new key's limit and credit). The redirect URI is exactly
`{public url}/connect/{provider}/callback`; the state is checked once, bound to the user
and the session; a wrong PKCE verifier is refused; an app the operator did not register
offers no button and says how to register one."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from tests.connect.conftest import PUBLIC_URL, Clock, approve_in_browser
from tools.clients.errors import OAuthFailed
from tools.connect import Connections
from tools.simulator.all import FakeStack
from vault import OAuthStateInvalid, Settings, Vault
from vault.models import OAuthPending


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


async def _connect(
    connections: Connections, http: httpx.AsyncClient, user: str, provider: str
) -> tuple[str, dict[str, str]]:
    url = await connections.begin_redirect(user, provider, session_id="session-1")
    return url, await approve_in_browser(http, url)


async def test_the_github_app_connects_with_expiring_refreshable_tokens(
    connections: Connections, http: httpx.AsyncClient, vault: Vault, user: str, clock: Clock
) -> None:
    url, back = await _connect(connections, http, user, "github")
    assert _query(url)["redirect_uri"] == f"{PUBLIC_URL}/connect/github/callback"
    connected = await connections.complete_redirect(
        "github", state=back["state"], code=back["code"], user_id=user, session_id="session-1"
    )
    assert connected.identity == "octo-tester" and connected.scopes == []
    assert connected.expires_at == clock.now + timedelta(hours=8)
    assert "refreshed automatically" in connected.message
    grant = await vault.credentials.grant(user, "github")
    assert grant.via == "github_app" and grant.refresh is not None
    assert grant.access.get_secret_value().startswith("ghu_")
    assert grant.refresh.get_secret_value().startswith("ghr_")


async def test_vercel_connects_with_pkce_and_its_token_deploys(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, vault: Vault, user: str
) -> None:
    url, back = await _connect(connections, http, user, "vercel")
    asked = _query(url)
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["scope"] == "openid email offline_access"
    assert asked["redirect_uri"] == f"{PUBLIC_URL}/connect/vercel/callback"
    connected = await connections.complete_redirect(
        "vercel", state=back["state"], code=back["code"], user_id=user, session_id="session-1"
    )
    assert connected.identity and connected.expires_at is not None
    token = await connections.token(user, "vercel")
    assert token.get_secret_value().startswith("vca_")
    await connections.require_scopes(user, "vercel", {"web_vercel"})  # works on its API


async def test_a_wrong_pkce_verifier_is_refused_and_nothing_is_stored(
    connections: Connections, http: httpx.AsyncClient, vault: Vault, user: str
) -> None:
    first = await connections.begin_redirect(user, "vercel", session_id="session-1")
    second = await connections.begin_redirect(user, "vercel", session_id="session-1")
    code = (await approve_in_browser(http, first))["code"]  # made for the first challenge
    state = _query(second)["state"]  # whose verifier is the second's
    with pytest.raises(OAuthFailed) as caught:
        await connections.complete_redirect(
            "vercel", state=state, code=code, user_id=user, session_id="session-1"
        )
    assert caught.value.code == "invalid_grant"
    assert await vault.credentials.list(user) == []


async def test_netlify_connects_without_pkce(
    connections: Connections, http: httpx.AsyncClient, user: str
) -> None:
    url, back = await _connect(connections, http, user, "netlify")
    assert "code_challenge" not in _query(url)
    connected = await connections.complete_redirect(
        "netlify", state=back["state"], code=back["code"], user_id=user, session_id="session-1"
    )
    assert connected.expires_at is None and connected.message.startswith("Netlify connected")


async def test_openrouter_hands_over_a_key_and_its_limit_and_credit(
    connections: Connections, http: httpx.AsyncClient, vault: Vault, user: str
) -> None:
    url, back = await _connect(connections, http, user, "openrouter")
    callback = _query(url)["callback_url"]
    assert callback.startswith(f"{PUBLIC_URL}/connect/openrouter/callback?state=")
    connected = await connections.complete_redirect(
        "openrouter", state=back["state"], code=back["code"], user_id=user,
        session_id="session-1",
    )  # fmt: skip
    assert connected.limits["limit"] == 10.0 and connected.limits["limit_remaining"] == 10.0
    assert "limit $10.00, $10.00 left, $0.00 used" in connected.message
    key = await connections.token(user, "openrouter")
    assert key.get_secret_value().startswith("sk-or-v1-")
    assert (await vault.credentials.describe(user, "openrouter")).connected_via == "pkce"


async def test_a_state_is_single_use_and_bound_to_its_session(
    connections: Connections, http: httpx.AsyncClient, vault: Vault, user: str
) -> None:
    _, back = await _connect(connections, http, user, "netlify")
    with pytest.raises(OAuthStateInvalid):  # carried into another chat session
        await connections.complete_redirect(
            "netlify", state=back["state"], code=back["code"], user_id=user,
            session_id="session-2",
        )  # fmt: skip
    with pytest.raises(OAuthStateInvalid):  # and then it is spent for the right one too
        await connections.complete_redirect(
            "netlify", state=back["state"], code=back["code"], user_id=user,
            session_id="session-1",
        )  # fmt: skip
    _, back = await _connect(connections, http, user, "netlify")
    with pytest.raises(OAuthStateInvalid):  # a state begun for another provider
        await connections.complete_redirect(
            "vercel", state=back["state"], code=back["code"], user_id=user,
            session_id="session-1",
        )  # fmt: skip
    assert await vault.credentials.list(user) == []


async def test_a_state_expires_after_ten_minutes(
    connections: Connections, http: httpx.AsyncClient, vault: Vault, user: str
) -> None:
    _, back = await _connect(connections, http, user, "netlify")
    now = vault.oauth_pending.clock()
    vault.oauth_pending.clock = lambda: now + timedelta(minutes=11)
    with pytest.raises(OAuthStateInvalid):
        await connections.complete_redirect(
            "netlify", state=back["state"], code=back["code"], user_id=user,
            session_id="session-1",
        )  # fmt: skip


async def test_a_denied_authorization_comes_back_without_a_code(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, user: str
) -> None:
    fakes.vercel.oauth.deny_next = True
    _, back = await _connect(connections, http, user, "vercel")
    assert back.get("error") == "access_denied" and "code" not in back
    # OpenRouter's callback URL carries our state already: the refusal keeps it.
    fakes.openrouter.oauth.deny_next = True
    _, back = await _connect(connections, http, user, "openrouter")
    assert back.get("error") == "access_denied" and back.get("state") and "code" not in back


async def test_an_unregistered_app_has_no_button_and_says_how_to_register_one(
    vault: Vault, settings: Settings, http: httpx.AsyncClient, user: str
) -> None:
    unregistered = {
        "vercel_oauth_client_id": None, "netlify_oauth_client_secret": None,
        "github_app_client_id": None, "github_oauth_client_id": None, "openrouter_connect": False,
    }  # fmt: skip
    bare = settings.model_copy(update=unregistered)
    connections = Connections(vault, bare, http)
    options = connections.options()
    assert not any(option.available for option in options.values())
    assert "KRIPTIK_VERCEL_OAUTH_CLIENT_ID" in options["vercel"].how_to_enable
    assert f"{PUBLIC_URL}/connect/vercel/callback" in options["vercel"].how_to_enable
    assert "KRIPTIK_GITHUB_APP_CLIENT_ID" in options["github"].how_to_enable
    with pytest.raises(OAuthFailed) as caught:
        await connections.begin_redirect(user, "vercel", session_id="session-1")
    assert caught.value.code == "not_configured"
    with pytest.raises(OAuthFailed):
        await connections.start_device(user)
    async with vault.sessions() as session:  # no state was kept for a flow that cannot run
        assert await session.scalar(select(func.count()).select_from(OAuthPending)) == 0
