"""VercelClient against the Vercel fake (hand-written strict schemas, provider-apis.md §4)."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import AuthError, BuildFailed, ProviderPermissionError, RateLimited
from tools.clients.vercel import VercelClient
from tools.simulator import vercel as vf
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock

PLANTED = "vercel_PLANTED_0123456789abcdef"
FILES = {
    "index.html": b"<h1>Chat</h1>",
    "app.js": b"fetch('/api')",
    "api/run.js": b"export default 1",
    "dup.html": b"<h1>Chat</h1>",
}


def _client(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, token: str = vf.DEFAULT_TOKEN
) -> VercelClient:
    return VercelClient(
        http=http, base_url=fakes.url("vercel"), token=SecretStr(token), retry=retry
    )


async def test_user(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    me = await _client(fakes, http, retry).user()
    assert (me.username, me.email) == ("kriptik-dev", "dev@example.com")


async def test_deploy_uploads_only_missing_files_then_becomes_ready(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    deployment = await client.deploy("kt-chat", FILES)
    uploads = fakes.vercel.calls_to("POST /v2/files")
    assert sorted(c.headers["x-vercel-digest"] for c in uploads) == sorted(
        {hashlib.sha1(b).hexdigest() for b in FILES.values()}  # noqa: S324
    )
    assert len(fakes.vercel.calls_to("POST /v13/deployments")) == 2  # missing_files, then created
    ready = await client.wait_ready(deployment.id, poll_s=3)
    assert ready.ready_state == "READY" and ready.https_url == f"https://{deployment.url}"
    assert clock.sleeps == [3.0]  # QUEUED -> BUILDING -> READY
    again = await client.deploy("kt-chat", FILES)  # a re-run: every file is known
    assert again.id != deployment.id
    assert len(fakes.vercel.calls_to("POST /v2/files")) == len(uploads)
    assert len(fakes.vercel.calls_to("POST /v13/deployments")) == 3


async def test_failed_build_says_where_the_log_is(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    fakes.vercel.state.fail_next_build = "npm run build exited with 1"
    deployment = await client.deploy("kt-chat", FILES)
    with pytest.raises(BuildFailed) as caught:
        await client.wait_ready(deployment.id)
    assert str(caught.value) == (
        f"The Vercel deployment {deployment.id} ended in ERROR: npm run build exited with 1. Open "
        f"https://vercel.com/kriptik-dev/kt-chat/{deployment.id} for the build log, fix the app, then deploy again."
    )


async def test_project_and_env_upsert(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, all_logs: pytest.LogCaptureFixture
) -> None:
    client = _client(fakes, http, retry)
    project = await client.ensure_project("kt-chat")
    assert await client.ensure_project("kt-chat") == project
    assert len(fakes.vercel.calls_to("POST /v11/projects")) == 1
    secret = "rpa_PLANTED_env_value_0000"
    await client.set_env(
        "kt-chat", {"RUNPOD_API_KEY": SecretStr("old"), "ENDPOINT_ID": SecretStr("ep1")}
    )
    await client.set_env("kt-chat", {"RUNPOD_API_KEY": SecretStr(secret)})
    env = fakes.vercel.state.projects[project.id]["_env"]
    assert env["RUNPOD_API_KEY"]["value"] == secret and env["RUNPOD_API_KEY"]["type"] == "encrypted"
    assert set(env) == {"RUNPOD_API_KEY", "ENDPOINT_ID"}
    assert all(
        ("upsert", "true") in c.query for c in fakes.vercel.calls_to("POST /v10/projects/{id}/env")
    )
    assert secret not in all_logs.text


async def test_bad_token_is_a_403_with_invalid_token(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    with pytest.raises(AuthError) as caught:
        await _client(fakes, http, retry, "vercel_wrong").user()
    assert str(caught.value) == (
        "Vercel rejected the key (403). Create a new one at https://vercel.com/account/settings/tokens, then paste it here."
    )


async def test_team_access_and_rate_limits(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    fakes.vercel.fail("GET /v2/user", 403, message="You don't have access to this team")
    with pytest.raises(
        ProviderPermissionError,
        match=r"The token needs access to the team \(scope\) that owns the project",
    ):
        await client.user()
    fakes.vercel.fail("POST /v13/deployments", 429, retry_after=20)
    await client.deploy("kt-chat", {"index.html": b"x"})
    assert clock.sleeps == [20.0]
    fakes.vercel.fail("GET /v2/user", 429, times=None, retry_after=500)
    with pytest.raises(RateLimited, match="Wait 500 s"):
        await client.user()  # longer than we are willing to wait: reported at once
    assert clock.sleeps == [20.0]


async def test_planted_token_never_leaks(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, all_logs: pytest.LogCaptureFixture
) -> None:
    fakes.vercel.tokens[PLANTED] = {"id": "u2", "email": "x@example.com", "username": "x"}
    client = _client(fakes, http, retry, PLANTED)
    await client.deploy("kt-chat", FILES)
    fakes.vercel.fail("GET /v13/deployments/{id}", 500, times=None, message=f"bad {PLANTED}")
    with pytest.raises(Exception) as caught:
        await client.get_deployment("dpl_x")
    assert PLANTED not in " ".join(
        [str(caught.value), repr(caught.value), repr(client), all_logs.text]
    )
