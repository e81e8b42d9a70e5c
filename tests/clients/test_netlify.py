"""NetlifyClient against the Netlify fake (contract: netlify.swagger.json, Draft 4 + strict)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import AuthError, BuildFailed, InvalidRequest, NotFound, Upstream
from tools.clients.netlify import NetlifyClient
from tools.simulator import netlify as nf
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock

PLANTED = "nfp_PLANTEDplantedPLANTED0123456789"
FILES = {
    "index.html": b"<h1>Chat</h1>",
    "assets/app.js": b"run()",
    "my page.html": b"<p>spaces</p>",
    "copy.html": b"<h1>Chat</h1>",
}


def _client(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, token: str = nf.DEFAULT_TOKEN
) -> NetlifyClient:
    return NetlifyClient(
        http=http, base_url=fakes.url("netlify") + "/api/v1", token=SecretStr(token), retry=retry
    )


async def test_user_and_site(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    client = _client(fakes, http, retry)
    assert (await client.user()).email == "dev@example.com"
    site = await client.ensure_site("kt-chat")
    assert site.ssl_url == "https://kt-chat.netlify.app"
    assert await client.ensure_site("kt-chat") == site
    assert len(fakes.netlify.calls_to("POST /api/v1/sites")) == 1


async def test_digest_deploy_uploads_only_required_files(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    site = await client.ensure_site("kt-chat")
    deploy = await client.deploy(site.id, FILES)
    puts = fakes.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/files/{path}")
    assert len(puts) == 3  # four paths, three distinct contents
    # URL-encoded, without the leading slash, as Netlify wants.
    assert f"/api/v1/deploys/{deploy.id}/files/my%20page.html" in {c.raw_path for c in puts}
    assert all(c.headers["content-type"] == "application/octet-stream" for c in puts)
    ready = await client.wait_ready(site.id, deploy.id, poll_s=2)
    assert ready.state == "ready" and clock.sleeps == []
    assert fakes.netlify.site_files(deploy.id) == {"/" + p: b for p, b in FILES.items()}
    again = await client.deploy(site.id, FILES)  # a re-run: Netlify already has every file
    assert again.required == ()
    assert len(fakes.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/files/{path}")) == 3


async def test_failed_deploy(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    client = _client(fakes, http, retry)
    site = await client.ensure_site("kt-chat")
    fakes.netlify.state.fail_next_deploy = "Build script returned non-zero exit code: 2"
    deploy = await client.deploy(site.id, {"index.html": b"new"})
    with pytest.raises(BuildFailed) as caught:
        await client.wait_ready(site.id, deploy.id)
    assert str(caught.value) == (
        f"The Netlify deploy {deploy.id} failed: Build script returned non-zero exit code: 2. Open the deploy log in "
        "the Netlify dashboard, fix the app, then deploy again."
    )


async def test_errors(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    with pytest.raises(AuthError) as bad:
        await _client(fakes, http, retry, "nfp_wrong").user()
    assert str(bad.value) == (
        "Netlify rejected the key (401). Create a new one at "
        "https://app.netlify.com/user/applications#personal-access-tokens, then paste it here."
    )
    client = _client(fakes, http, retry)
    await client.ensure_site("kt-chat")
    with pytest.raises(
        InvalidRequest, match=r"Netlify rejected the request \(422\): subdomain must be unique"
    ):
        await client._api.call("POST", "/sites", json={"name": "kt-chat"})
    with pytest.raises(NotFound, match="Netlify could not find the site nope"):
        await client.get_site("nope")
    fakes.netlify.fail("POST /api/v1/sites/{site_id}/deploys", 500)
    with pytest.raises(Upstream):
        await client.deploy("x", FILES)
    assert (
        len(fakes.netlify.calls_to("POST /api/v1/sites/{site_id}/deploys")) == 1
    )  # a create: not repeated


async def test_a_misspelt_field_fails_the_strict_contract(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    site = await client.ensure_site("kt-chat")
    with pytest.raises(InvalidRequest):
        await client._api.call("POST", f"/sites/{site.id}/deploys", json={"filez": {}})
    [violation] = fakes.netlify.violations
    assert "Additional properties are not allowed ('filez' was unexpected)" in violation
    fakes.netlify.violations.clear()


async def test_planted_token_never_leaks(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, all_logs: pytest.LogCaptureFixture
) -> None:
    fakes.netlify.tokens[PLANTED] = {"id": "u2", "email": "x@example.com", "full_name": "X"}
    client = _client(fakes, http, retry, PLANTED)
    site = await client.ensure_site("kt-chat")
    await client.deploy(site.id, FILES)
    fakes.netlify.fail("GET /api/v1/user", 503, times=None, message=PLANTED)
    with pytest.raises(Upstream) as caught:
        await client.user()
    assert PLANTED not in " ".join(
        [str(caught.value), repr(caught.value), repr(client), all_logs.text]
    )
