"""GitHubClient and GitHubDeviceFlow against the GitHub fake (contract:
github-rest.subset.openapi.json with the strict overlay)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.conftest import need_service
from tools.clients._http import Retry
from tools.clients.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    OAuthFailed,
    ProviderPermissionError,
    RateLimited,
)
from tools.clients.github import GitHubClient
from tools.clients.github_oauth import GitHubDeviceFlow
from tools.simulator import github as ghf
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock

PLANTED = "ghp_PLANTEDplantedPLANTEDplanted012345"
OWNER = "octo-tester"
FILES: dict[str, bytes | str] = {
    "Dockerfile": b"FROM scratch\nCOPY handler.py /\n",
    "handler.py": "def handler(job):\n    return job['input']\n",
    "web/index.html": b"<!doctype html><h1>KripTik</h1>\n",
    "web/assets/logo.png": bytes(range(256)) * 4,
}


def _client(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, token: str = ghf.DEFAULT_TOKEN
) -> GitHubClient:
    return GitHubClient(
        http=http, base_url=fakes.url("github"), token=SecretStr(token), retry=retry
    )


def _as_bytes(files: dict[str, bytes | str]) -> dict[str, bytes]:
    return {p: c.encode() if isinstance(c, str) else c for p, c in files.items()}


@pytest.mark.parametrize(
    ("token", "scopes"),
    [
        (ghf.DEFAULT_TOKEN, ("repo", "workflow")),
        (ghf.FINE_GRAINED_TOKEN, None),
        (ghf.NO_REPO_SCOPE_TOKEN, ("read:user", "gist")),
    ],
)
async def test_user_reads_scopes_from_the_header(
    fakes: FakeStack,
    http: httpx.AsyncClient,
    retry: Retry,
    token: str,
    scopes: tuple[str, ...] | None,
) -> None:
    me = await _client(fakes, http, retry, token).user()
    assert (me.login, me.scopes) == (OWNER, scopes)


async def test_ensure_repo_creates_once_with_an_initial_commit(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    repo = await client.ensure_repo("demo", description="KripTik deployment")
    assert (repo.full_name, repo.private, repo.default_branch) == (f"{OWNER}/demo", True, "main")
    assert repo.html_url.startswith(fakes.url("github"))  # URLs come from the fake's own host
    assert await client.ensure_repo("demo") == repo
    assert len(fakes.github.calls_to("POST /user/repos")) == 1
    assert fakes.github.calls_to("POST /user/repos")[0].json()["auto_init"] is True
    assert fakes.github.files(OWNER, "demo") == {"README.md": b"# demo\n"}


async def test_push_tree_makes_one_commit_and_a_rerun_makes_none(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    repo = await client.ensure_repo("demo")
    first = await client.push_tree(
        repo.full_name, FILES, message="Deploy tiny-llama", executable=["handler.py"]
    )
    assert first.changed
    assert fakes.github.files(OWNER, "demo") == _as_bytes(FILES)  # exactly the snapshot
    assert fakes.github.commits(OWNER, "demo") == 2
    assert (
        len(fakes.github.calls_to("POST /repos/{owner}/{repo}/git/blobs")) == 1
    )  # only the binary file
    again = await client.push_tree(
        repo.full_name, FILES, message="Deploy tiny-llama", executable=["handler.py"]
    )
    assert (again.changed, again.commit_sha, again.tree_sha) == (
        False,
        first.commit_sha,
        first.tree_sha,
    )
    assert fakes.github.commits(OWNER, "demo") == 2
    assert len(fakes.github.calls_to("POST /repos/{owner}/{repo}/git/commits")) == 1


async def test_a_changed_tree_becomes_a_child_commit(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    repo = await client.ensure_repo("demo")
    first = await client.push_tree(repo.full_name, FILES, message="v1")
    changed = {k: v for k, v in FILES.items() if k != "web/assets/logo.png"} | {
        "handler.py": "# v2\n"
    }
    second = await client.push_tree(repo.full_name, changed, message="v2")
    assert second.changed and second.commit_sha != first.commit_sha
    git_repo = fakes.github.repos[(OWNER, "demo")]
    assert git_repo.objects[second.commit_sha][1]["parents"] == [first.commit_sha]
    assert fakes.github.files(OWNER, "demo") == _as_bytes(changed)


async def test_tree_shas_are_the_ones_git_computes(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, tmp_path: Path
) -> None:
    if shutil.which("git") is None:
        need_service("git", "install Debian's `git` package")
    client = _client(fakes, http, retry)
    repo = await client.ensure_repo("demo")
    result = await client.push_tree(repo.full_name, FILES, message="x", executable=["handler.py"])

    def git(*args: str, data: bytes | None = None) -> str:
        return (
            subprocess.run(
                ["git", *args], cwd=tmp_path, input=data, capture_output=True, check=True
            )
            .stdout.decode()
            .strip()
        )

    git("init", "-q")
    for path, content in _as_bytes(FILES).items():
        sha = git("hash-object", "-w", "--stdin", data=content)
        mode = "100755" if path == "handler.py" else "100644"
        git("update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}")
    assert git("write-tree") == result.tree_sha


async def test_auth_scope_and_rate_limit_errors(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    with pytest.raises(AuthError) as bad:
        await _client(fakes, http, retry, "ghp_revoked").user()
    assert str(bad.value) == (
        "GitHub rejected the key (401). Create a new one at https://github.com/settings/tokens/new?scopes=repo,workflow, "
        "then paste it here."
    )
    with pytest.raises(ProviderPermissionError) as scope:
        await _client(fakes, http, retry, ghf.NO_REPO_SCOPE_TOKEN).ensure_repo("demo")
    assert str(scope.value) == (
        "GitHub refused this request (403): Resource not accessible by personal access token. Pushing code needs the "
        "`repo` scope (and `workflow` for .github/workflows). Create a key with that access at "
        "https://github.com/settings/tokens/new?scopes=repo,workflow, then paste it here."
    )
    reset = str(int(clock.now().timestamp()) + 30)
    fakes.github.fail("GET /user", 403, times=None, message="API rate limit exceeded",
                      headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})  # fmt: skip
    with pytest.raises(RateLimited) as limited:
        await _client(fakes, http, Retry(max_attempts=1, sleep=clock.sleep, clock=clock.now)).user()
    assert limited.value.retry_after == 30
    assert str(limited.value) == "GitHub is rate-limiting requests (403). Wait 30 s and try again."


async def test_429_on_tree_creation_is_retried_after_the_advised_wait(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    repo = await client.ensure_repo("demo")
    fakes.github.fail("POST /repos/{owner}/{repo}/git/trees", 429, retry_after=9)
    assert (await client.push_tree(repo.full_name, FILES, message="x")).changed
    assert clock.sleeps == [9.0]
    assert fakes.github.commits(OWNER, "demo") == 2


async def test_empty_repo_conflict_is_explained(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.github.repos[(OWNER, "bare")] = ghf.GitRepo(OWNER, "bare", private=True)
    with pytest.raises(
        Conflict,
        match=r"GitHub reports a conflict for branch main of octo-tester/bare \(409\): Git Repository is empty",
    ):
        await _client(fakes, http, retry).push_tree(f"{OWNER}/bare", FILES, message="x")


async def test_a_misspelt_field_fails_the_strict_contract(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    with pytest.raises(InvalidRequest):
        await client._api.call("POST", "/user/repos", json={"name": "x", "auto_inti": True})
    [violation] = fakes.github.violations
    assert "Additional properties are not allowed ('auto_inti' was unexpected)" in violation
    fakes.github.violations.clear()


async def test_planted_token_never_reaches_logs_or_errors(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, all_logs: pytest.LogCaptureFixture
) -> None:
    fakes.github.users[PLANTED] = ghf.GitHubUser()
    client = _client(fakes, http, retry, PLANTED)
    repo = await client.ensure_repo("demo")
    await client.push_tree(repo.full_name, FILES, message="x")
    fakes.github.fail("POST /repos/{owner}/{repo}/git/trees", 422, message=f"bad token {PLANTED}")
    with pytest.raises(InvalidRequest) as caught:
        await client.push_tree(repo.full_name, {"a": "b"}, message="y")
    assert PLANTED not in " ".join(
        [str(caught.value), repr(caught.value), repr(client), all_logs.text]
    )


# ---- OAuth device flow ----------------------------------------------------------------------
def _flow(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> GitHubDeviceFlow:
    return GitHubDeviceFlow(
        http=http, base_url=fakes.url("github"), client_id=ghf.OAUTH_CLIENT_ID, retry=retry
    )


async def test_device_flow_polls_at_the_interval_and_slows_down(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    flow = _flow(fakes, http, retry)
    code = await flow.start()
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", code.user_code) and code.interval == 5
    fakes.github.device[code.device_code]["slow_down"] = 1
    tokens = await flow.wait(code)
    assert tokens.access_token.get_secret_value().startswith("gho_")
    assert (tokens.scopes, tokens.expires_in, tokens.refresh_token) == (
        ("repo", "workflow"),
        None,
        None,
    )
    assert clock.sleeps == [5.0, 10.0, 10.0]  # slow_down: GitHub's new interval from then on
    form = fakes.github.calls_to("POST /login/oauth/access_token")[0].body.decode()
    assert "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code" in form
    assert (
        fakes.github.calls_to("POST /login/device/code")[0].headers["accept"] == "application/json"
    )
    me = await _client(fakes, http, retry, tokens.access_token.get_secret_value()).user()
    assert (me.login, me.scopes) == (OWNER, ("repo", "workflow"))


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ("access_denied", "The GitHub connection was cancelled. Start it again and choose Authorize."),
        ("expired_token", "The GitHub sign-in code expired before it was approved. Start the sign-in again."),
        ("device_flow_disabled",
         "GitHub sign-in by device code is disabled for this OAuth app. Enable Device Flow in the app's settings on "
         "GitHub, then try again."),
    ],
)  # fmt: skip
async def test_device_flow_failures(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, outcome: str, message: str
) -> None:
    flow = _flow(fakes, http, retry)
    code = await flow.start()
    fakes.github.device[code.device_code]["outcome"] = outcome
    with pytest.raises(OAuthFailed) as caught:
        await flow.wait(code)
    assert (caught.value.code, str(caught.value)) == (outcome, message)
