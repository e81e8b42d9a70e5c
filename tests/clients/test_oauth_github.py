"""GitHub's OAuth flows for connecting an account, real clients against the GitHub fake:
the device flow (one poll at a time, every documented fault, the scopes asked), a GitHub
App's expiring tokens (exchange, refresh, revoked refresh), and token revocation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import AuthError
from tools.clients.github import GitHubClient
from tools.clients.github_oauth import GitHubAppAuth, GitHubDeviceFlow, revoke_github_token
from tools.clients.oauth_tokens import OAuthFailed, TokenSet
from tools.simulator import github as ghf
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.github_oauth import OAUTH_CLIENT_SECRET

CALLBACK = "http://127.0.0.1:8000/connect/github/callback"


def _device(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> GitHubDeviceFlow:
    return GitHubDeviceFlow(
        http=http, base_url=fakes.url("github"), client_id=ghf.OAUTH_CLIENT_ID, retry=retry
    )


def _app(fakes: FakeStack, http: httpx.AsyncClient, secret: str | None = None) -> GitHubAppAuth:
    app = fakes.github.app
    return GitHubAppAuth(
        http=http, web_base_url=fakes.url("github"), api_base_url=fakes.url("github"),
        client_id=app.client_id, client_secret=SecretStr(secret or app.client_secret),
        slug=app.slug,
    )  # fmt: skip


def _api(fakes: FakeStack, http: httpx.AsyncClient, token: SecretStr) -> GitHubClient:
    return GitHubClient(http=http, base_url=fakes.url("github"), token=token)


async def _redirect(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Open `url` as the browser would; the query of the redirect it answers with."""
    resp = await http.get(url)
    assert resp.status_code == 302, resp.text
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["location"]).query).items()}


# ---- device flow ------------------------------------------------------------------------
async def test_poll_reports_each_wait_then_the_token_with_the_scopes_asked(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    flow = _device(fakes, http, retry)
    fakes.github.device_policy.slow_down_at = 2
    fakes.github.device_policy.approve_after = 3
    code = await flow.start(scopes=("repo", "write:packages"))
    assert await flow.poll(code) == 5.0  # authorization_pending: the same interval
    assert await flow.poll(code, interval=5.0) == 10.0  # slow_down: GitHub's new interval
    assert await flow.poll(code, interval=10.0) == 10.0
    tokens = await flow.poll(code, interval=10.0)
    assert isinstance(tokens, TokenSet)
    assert tokens.scopes == ("repo", "write:packages")
    me = await _api(fakes, http, tokens.access_token).user()
    assert me.scopes == ("repo", "write:packages")  # X-OAuth-Scopes shows what was asked


async def test_a_device_flow_token_pushes_a_repository(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    flow = _device(fakes, http, retry)
    tokens = await flow.wait(await flow.start(scopes=("repo",)))
    client = _api(fakes, http, tokens.access_token)
    repo = await client.ensure_repo("connected")
    assert (await client.push_tree(repo.full_name, {"a.txt": "hi"}, message="x")).changed


async def test_a_grant_without_the_packages_scope_shows_in_the_scopes_header(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.github.oauth.grant_scopes = ("repo",)  # the person's token lacks write:packages
    flow = _device(fakes, http, retry)
    tokens = await flow.wait(await flow.start(scopes=("repo", "write:packages")))
    assert tokens.scopes == ("repo",)
    assert (await _api(fakes, http, tokens.access_token).user()).scopes == ("repo",)


async def test_the_person_approves_on_the_device_page(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.github.device_policy.approve_after = None  # pending until someone approves
    flow = _device(fakes, http, retry)
    code = await flow.start(scopes=("repo",))
    assert await flow.poll(code) == 5.0
    page = await http.get(code.verification_uri)
    assert "Device activation" in page.text
    done = await http.post(
        code.verification_uri, data={"user_code": code.user_code, "authorize": "1"}
    )
    assert done.status_code == 200
    assert isinstance(await flow.poll(code), TokenSet)


@pytest.mark.parametrize("via", ["deny_next", "cancel on the page"])
async def test_a_denied_device_flow_raises_access_denied(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, via: str
) -> None:
    flow = _device(fakes, http, retry)
    if via == "deny_next":
        fakes.github.oauth.deny_next = True
        code = await flow.start()
    else:
        code = await flow.start()
        await http.post(code.verification_uri, data={"user_code": code.user_code, "cancel": "1"})
    with pytest.raises(OAuthFailed) as caught:
        await flow.wait(code)
    assert caught.value.code == "access_denied"


async def test_the_client_gives_up_when_the_code_expires(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.github.device_policy.approve_after = None  # nobody ever approves
    flow = _device(fakes, http, retry)
    code = await flow.start()
    with pytest.raises(OAuthFailed) as caught:
        await flow.wait(code)
    assert caught.value.code == "expired_token"
    assert clock.slept == code.expires_in  # polled at the interval until the code expired


# ---- GitHub App: expiring user tokens ----------------------------------------------------
async def _connect_app(fakes: FakeStack, http: httpx.AsyncClient) -> TokenSet:
    auth = _app(fakes, http)
    back = await _redirect(http, auth.authorize_url(state="st-1", redirect_uri=CALLBACK))
    assert back["state"] == "st-1"
    return await auth.exchange(back["code"], redirect_uri=CALLBACK)


async def test_app_exchange_gives_expiring_tokens_that_work(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    tokens = await _connect_app(fakes, http)
    assert tokens.access_token.get_secret_value().startswith("ghu_")
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value().startswith("ghr_")
    assert (tokens.expires_in, tokens.refresh_token_expires_in) == (28800, 15897600)
    me = await _api(fakes, http, tokens.access_token).user()
    assert (me.login, me.scopes) == ("octo-tester", None)  # fine-grained: no scopes header


async def test_an_expired_app_token_is_refreshed_and_the_old_refresh_token_is_spent(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    tokens = await _connect_app(fakes, http)
    assert tokens.refresh_token is not None
    fakes.github.oauth.expire_access(tokens.access_token.get_secret_value())
    with pytest.raises(AuthError):
        await _api(fakes, http, tokens.access_token).user()
    fresh = await _app(fakes, http).refresh(tokens.refresh_token)
    assert fresh.access_token != tokens.access_token and fresh.refresh_token is not None
    assert (await _api(fakes, http, fresh.access_token).user()).login == "octo-tester"
    with pytest.raises(OAuthFailed) as reused:
        await _app(fakes, http).refresh(tokens.refresh_token)
    assert reused.value.code == "bad_refresh_token"


async def test_a_revoked_refresh_token_says_connect_again(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    tokens = await _connect_app(fakes, http)
    assert tokens.refresh_token is not None
    fakes.github.oauth.revoke_refresh(tokens.refresh_token.get_secret_value())
    with pytest.raises(OAuthFailed) as caught:
        await _app(fakes, http).refresh(tokens.refresh_token)
    assert (caught.value.code, str(caught.value)) == (
        "bad_refresh_token",
        "GitHub no longer accepts the saved connection (it was revoked or expired). "
        "Connect GitHub again.",
    )


async def test_app_authorization_faults(fakes: FakeStack, http: httpx.AsyncClient) -> None:
    auth = _app(fakes, http)
    fakes.github.oauth.deny_next = True
    denied = await _redirect(http, auth.authorize_url(state="s", redirect_uri=CALLBACK))
    assert (denied["error"], denied["state"]) == ("access_denied", "s")
    back = await _redirect(http, auth.authorize_url(state="s", redirect_uri=CALLBACK))
    with pytest.raises(OAuthFailed) as other_uri:
        await auth.exchange(back["code"], redirect_uri=CALLBACK + "/elsewhere")
    assert other_uri.value.code == "bad_verification_code"
    with pytest.raises(OAuthFailed) as used:  # a code is single use
        await auth.exchange(back["code"], redirect_uri=CALLBACK)
    assert used.value.code == "bad_verification_code"
    back = await _redirect(http, auth.authorize_url(state="s", redirect_uri=CALLBACK))
    with pytest.raises(OAuthFailed) as bad_secret:
        await _app(fakes, http, secret="wrong").exchange(back["code"], redirect_uri=CALLBACK)
    assert bad_secret.value.code == "incorrect_client_credentials"
    refused = await http.get(auth.authorize_url(state="s", redirect_uri="https://evil.example/cb"))
    assert refused.status_code == 400  # an unregistered callback gets no redirect


async def test_install_url_installs_and_comes_back_with_a_code(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    fakes.github.app.callback_url = CALLBACK
    auth = _app(fakes, http)
    url = auth.install_url(state="st-2")
    assert url == f"{fakes.url('github')}/apps/kriptik-fake/installations/new?state=st-2"
    assert url is not None
    back = await _redirect(http, url)
    assert (back["setup_action"], back["state"]) == ("install", "st-2")
    assert fakes.github.app.installations == [int(back["installation_id"])]
    tokens = await auth.exchange(back["code"], redirect_uri=CALLBACK)
    assert tokens.expires_in == 28800
    no_slug = GitHubAppAuth(http=http, web_base_url="https://github.com", api_base_url="x",
                            client_id="c", client_secret=SecretStr("s"), slug=None)  # fmt: skip
    assert no_slug.install_url(state="s") is None


# ---- revocation ---------------------------------------------------------------------------
async def test_revoking_a_token_stops_it_working(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    flow = _device(fakes, http, retry)
    tokens = await flow.wait(await flow.start(scopes=("repo",)))
    revoke = {"api_base_url": fakes.url("github"), "client_id": ghf.OAUTH_CLIENT_ID,
              "token": tokens.access_token}  # fmt: skip
    assert await revoke_github_token(http, client_secret=SecretStr(OAUTH_CLIENT_SECRET), **revoke)
    with pytest.raises(AuthError):
        await _api(fakes, http, tokens.access_token).user()
    assert not await revoke_github_token(
        http, client_secret=SecretStr(OAUTH_CLIENT_SECRET), **revoke
    )
    with pytest.raises(AuthError):  # the app's own credentials are checked
        await revoke_github_token(http, client_secret=SecretStr("wrong"), **revoke)
    call = fakes.github.calls_to("DELETE /applications/{client_id}/token")[0]
    assert call.headers["authorization"].startswith("Basic ")
    assert call.json() == {"access_token": tokens.access_token.get_secret_value()}


async def test_revoking_an_app_token_ends_its_refresh_token_too(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    tokens = await _connect_app(fakes, http)
    assert tokens.refresh_token is not None
    assert await _app(fakes, http).revoke(tokens.access_token)
    with pytest.raises(OAuthFailed) as caught:
        await _app(fakes, http).refresh(tokens.refresh_token)
    assert caught.value.code == "bad_refresh_token"


async def test_tokens_and_secrets_never_reach_errors_reprs_or_logs(
    fakes: FakeStack, http: httpx.AsyncClient, all_logs: pytest.LogCaptureFixture
) -> None:
    tokens = await _connect_app(fakes, http)
    assert tokens.refresh_token is not None
    secrets = [tokens.access_token.get_secret_value(), tokens.refresh_token.get_secret_value(),
               fakes.github.app.client_secret]  # fmt: skip
    fakes.github.oauth.revoke_refresh(secrets[1])
    auth = _app(fakes, http)
    with pytest.raises(OAuthFailed) as caught:
        await auth.refresh(tokens.refresh_token)
    seen = " ".join(
        [str(caught.value), repr(caught.value), repr(tokens), repr(auth), all_logs.text]
    )
    assert not [s for s in secrets if s in seen]
