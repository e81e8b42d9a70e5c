"""Publishing generated apps with the real clients against the contract-checked fakes:
GitHub (create or reuse, one commit, no commit on a re-push, 409/422 on an existing name,
an existing empty repo), Vercel (missing_files round trip, encrypted env, build log on
error) and Netlify (required files and functions, secret env), each re-run idempotently,
then the deployed app's integration check against its function running in `node`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.fakes.all import FakeStack
from tests.fakes.clock import FakeClock
from tests.fakes.github import DEFAULT_TOKEN as GITHUB_TOKEN
from tests.fakes.github import NO_REPO_SCOPE_TOKEN
from tests.fakes.netlify import DEFAULT_TOKEN as NETLIFY_TOKEN
from tests.fakes.runpod import DEFAULT_KEY
from tests.fakes.vercel import DEFAULT_TOKEN as VERCEL_TOKEN
from tests.webapp.conftest import DevServer, dev_server, spec_for, write_project
from tools.artifacts.webapp import AppSpec, render_app
from tools.clients._http import Retry
from tools.clients.errors import BuildFailed, ProviderPermissionError
from tools.publish import (
    GitHubPublisher,
    NetlifyPublisher,
    PublishError,
    ResourceKind,
    SecretFound,
    VercelPublisher,
    check_app,
    deploy_to_netlify,
    deploy_to_vercel,
    publish_to_github,
)

KEY = SecretStr(DEFAULT_KEY)
OWNER = "octo-tester"


class Recorder:
    def __init__(self) -> None:
        self.resources: list[tuple[ResourceKind, str, str | None]] = []
        self.progress_lines: list[str] = []

    async def record_resource(self, kind: ResourceKind, resource_id: str, url: str | None) -> None:
        self.resources.append((kind, resource_id, url))

    async def progress(self, message: str) -> None:
        self.progress_lines.append(message)


class _Routed(httpx.AsyncBaseTransport):
    """Sends every request for the deployed app's host to the app running locally."""

    def __init__(self, target: str) -> None:
        self.target = httpx.URL(target)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme="http", host=self.target.host, port=self.target.port
        )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def _retry(clock: FakeClock) -> Retry:
    return Retry(sleep=clock.sleep, clock=clock.now)


@pytest.fixture
def github(stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock) -> GitHubPublisher:
    return GitHubPublisher(
        http=http, base_url=stack.url("github"), token=SecretStr(GITHUB_TOKEN), retry=_retry(clock)
    )


@pytest.fixture
def vercel(stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock) -> VercelPublisher:
    return VercelPublisher(
        http=http, base_url=stack.url("vercel"), token=SecretStr(VERCEL_TOKEN), retry=_retry(clock)
    )


@pytest.fixture
def netlify(stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock) -> NetlifyPublisher:
    base = stack.url("netlify") + "/api/v1"
    return NetlifyPublisher(
        http=http, base_url=base, token=SecretStr(NETLIFY_TOKEN), retry=_retry(clock)
    )


def _committed(stack: FakeStack, name: str) -> dict[str, bytes]:
    return stack.github.files(OWNER, name)


# ---- GitHub -------------------------------------------------------------------------------
async def test_github_one_private_repo_one_commit_and_no_commit_on_a_repush(
    github: GitHubPublisher, stack: FakeStack, recorder: Recorder
) -> None:
    spec = spec_for("llm")
    first = await publish_to_github(spec, github=github, secrets=[KEY], recorder=recorder)
    assert (first.full_name, first.private, first.created, first.changed) == (
        f"{OWNER}/demo-llm",
        True,
        True,
        True,
    )
    assert stack.github.repos[(OWNER, "demo-llm")].private
    app = render_app(spec)
    assert _committed(stack, "demo-llm") == app.files  # The whole tree, the README replaced.
    assert not any(DEFAULT_KEY.encode() in raw for raw in app.files.values())
    repo = stack.github.repos[(OWNER, "demo-llm")]
    tree = repo.objects[repo.refs["heads/main"]][1]["tree"]
    assert repo.flatten(tree)["dev-server.mjs"][0] == "100755"
    assert stack.github.commits(OWNER, "demo-llm") == 2  # GitHub's initial commit, and ours.

    again = await publish_to_github(spec, github=github, secrets=[KEY], recorder=recorder)
    assert (again.created, again.changed, again.commit_sha) == (False, False, first.commit_sha)
    assert stack.github.commits(OWNER, "demo-llm") == 2
    assert len(stack.github.calls_to("POST /user/repos")) == 1
    assert recorder.resources == [("github_repo", f"{OWNER}/demo-llm", first.html_url)] * 2

    changed = await publish_to_github(
        spec.model_copy(update={"title": "Qwen Chat 2"}), github=github
    )
    assert changed.changed and stack.github.commits(OWNER, "demo-llm") == 3


@pytest.mark.parametrize("create_fault", [409, None])
async def test_github_existing_name_at_create_is_reused(
    github: GitHubPublisher, stack: FakeStack, create_fault: int | None
) -> None:
    spec = spec_for("image")
    await publish_to_github(spec, github=github)
    # As if another run created it between our lookup and our create: GitHub answers
    # 422 "name already exists" (or a 409 from a conflicting create).
    stack.github.fail("GET /repos/{owner}/{repo}", 404)
    if create_fault:
        stack.github.fail("POST /user/repos", create_fault)
    result = await publish_to_github(spec, github=github)
    assert (result.created, result.changed) == (False, False)
    assert [c.status for c in stack.github.calls_to("POST /user/repos")] == [
        201,
        create_fault or 422,
    ]
    assert len(stack.github.repos) == 1 and stack.github.commits(OWNER, "demo-image") == 2


async def test_github_existing_empty_repo_gets_a_first_commit(
    github: GitHubPublisher, stack: FakeStack
) -> None:
    stack.github.empty_repo("demo-generic")
    result = await publish_to_github(spec_for("generic"), github=github)
    assert not result.created and result.changed
    assert stack.github.calls_to("GET /repos/{owner}/{repo}/git/ref/{ref}")[0].status == 409
    assert _committed(stack, "demo-generic") == render_app(spec_for("generic")).files
    assert stack.github.commits(OWNER, "demo-generic") == 2


async def test_github_refuses_to_push_private_code_to_a_public_repo(
    github: GitHubPublisher, stack: FakeStack
) -> None:
    stack.github.empty_repo("demo-llm", private=False)
    with pytest.raises(PublishError, match="already exists and is public"):
        await publish_to_github(spec_for("llm"), github=github)
    assert stack.github.calls_to("POST /repos/{owner}/{repo}/git/trees") == []


@pytest.mark.parametrize(
    ("description", "secrets", "kind"),
    [
        (f"Key {DEFAULT_KEY}", [], "a RunPod key (rpa_...)"),
        ("token ghp_" + "A1b2" * 9, [], "a GitHub token (ghp_...)"),
        (
            "my vault value: s3cr3t-Value-Only-In-The-Vault",
            [SecretStr("s3cr3t-Value-Only-In-The-Vault")],
            "one of your stored keys",
        ),
    ],
)
async def test_secret_in_the_tree_blocks_the_push_and_names_the_file(
    github: GitHubPublisher, stack: FakeStack, description: str, secrets: list[SecretStr], kind: str
) -> None:
    with pytest.raises(SecretFound) as caught:
        await publish_to_github(
            spec_for("llm", description=description), github=github, secrets=secrets
        )
    message = str(caught.value)
    assert message.startswith("Push blocked: README.md line 3 contains " + kind)
    assert {f.path for f in caught.value.findings} == {"README.md", "public/index.html"}
    assert description.split()[-1] not in message
    assert stack.github.calls == []  # Nothing left the machine.


async def test_github_token_without_repo_scope(
    stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    weak = GitHubPublisher(
        http=http,
        base_url=stack.url("github"),
        token=SecretStr(NO_REPO_SCOPE_TOKEN),
        retry=_retry(clock),
    )
    with pytest.raises(ProviderPermissionError, match="repo"):
        await publish_to_github(spec_for("llm"), github=weak)


# ---- the deployed app, for the integration check --------------------------------------------
@pytest.fixture
def running(
    request: pytest.FixtureRequest, stack: FakeStack, projects: Path
) -> Iterator[DevServer]:
    spec: AppSpec = request.param
    with dev_server(write_project(spec, projects), stack) as server:
        yield server


def _checker(server: DevServer, spec: AppSpec, clock: FakeClock):
    routed = httpx.AsyncClient(transport=_Routed(server.url), trust_env=False)

    async def check(url: str):
        async with routed:
            return await check_app(routed, url, spec, sleep=clock.sleep, poll_s=2)

    return check


# ---- Vercel ---------------------------------------------------------------------------------
@pytest.mark.parametrize("running", [spec_for("llm")], indirect=True)
async def test_vercel_deploy_missing_files_env_ready_and_checked(
    vercel: VercelPublisher,
    stack: FakeStack,
    recorder: Recorder,
    running: DevServer,
    clock: FakeClock,
) -> None:
    spec = spec_for("llm")
    result = await deploy_to_vercel(spec, vercel=vercel, runpod_key=KEY, secrets=[KEY], recorder=recorder,
                                    check=_checker(running, spec, clock))  # fmt: skip
    assert result.url == "https://demo-llm.vercel.app" and result.env_protection == "encrypted"
    posts = stack.vercel.calls_to("POST /v13/deployments")
    assert [c.status for c in posts] == [400, 200]  # missing_files, then the same body again.
    assert posts[0].body == posts[1].body
    files = render_app(spec).vercel_files()
    assert len(stack.vercel.calls_to("POST /v2/files")) == len(set(files.values()))
    assert sorted(stack.vercel.state.files.values()) == sorted(set(files.values()))
    assert not any(DEFAULT_KEY.encode() in raw for raw in stack.vercel.state.files.values())
    (project,) = stack.vercel.state.projects.values()
    env = project["_env"]
    assert env["RUNPOD_API_KEY"] == {
        "key": "RUNPOD_API_KEY",
        "value": DEFAULT_KEY,
        "type": "encrypted",
        "target": ["production", "preview"],
    }
    assert env["RUNPOD_ENDPOINT_ID"]["value"] == spec.endpoint.endpoint_id
    assert result.check is not None and result.check.passed, result.check.summary
    assert [s.name for s in result.check.steps] == ["page", "health", "chat"]
    assert [r[0] for r in recorder.resources] == ["vercel_project", "vercel_deployment"]
    assert DEFAULT_KEY not in result.model_dump_json()


async def test_vercel_rerun_uploads_nothing_and_keeps_an_identical_deployment(
    vercel: VercelPublisher, stack: FakeStack
) -> None:
    spec = spec_for("image")
    first = await deploy_to_vercel(spec, vercel=vercel, runpod_key=KEY)
    uploads = len(stack.vercel.calls_to("POST /v2/files"))
    kept = await deploy_to_vercel(spec, vercel=vercel, runpod_key=KEY, previous=first)
    assert kept.reused and kept.deployment_id == first.deployment_id
    assert len(stack.vercel.state.deployments) == 1 and len(stack.vercel.state.projects) == 1
    fresh = await deploy_to_vercel(spec, vercel=vercel, runpod_key=KEY)  # No memory of the first.
    assert not fresh.reused and len(stack.vercel.state.deployments) == 2
    assert len(stack.vercel.calls_to("POST /v2/files")) == uploads  # Vercel had every file.
    assert [c.status for c in stack.vercel.calls_to("POST /v13/deployments")] == [400, 200, 200]


async def test_vercel_build_error_reports_the_log_without_the_key(
    vercel: VercelPublisher, stack: FakeStack
) -> None:
    stack.vercel.state.fail_next_build = (
        f"Cannot find module 'x' (env RUNPOD_API_KEY={DEFAULT_KEY})"
    )
    with pytest.raises(BuildFailed) as caught:
        await deploy_to_vercel(spec_for("generic"), vercel=vercel, runpod_key=KEY)
    message = str(caught.value)
    assert (
        "ended in ERROR" in message
        and "End of the build log:\nInstalling dependencies...\nBuild completed\nError: Cannot find module 'x'"
        in message
    )
    assert DEFAULT_KEY not in message and "[redacted]" in message


# ---- Netlify --------------------------------------------------------------------------------
@pytest.mark.parametrize("running", [spec_for("media", media="model3d")], indirect=True)
async def test_netlify_deploy_files_function_secret_env_and_check(
    netlify: NetlifyPublisher,
    stack: FakeStack,
    recorder: Recorder,
    running: DevServer,
    clock: FakeClock,
) -> None:
    spec = spec_for("media", media="model3d")
    result = await deploy_to_netlify(spec, netlify=netlify, runpod_key=KEY, secrets=[KEY], recorder=recorder,
                                     check=_checker(running, spec, clock))  # fmt: skip
    app = render_app(spec)
    assert result.url == "https://demo-model3d.netlify.app" and result.env_protection == "secret"
    deploy = stack.netlify.state.deploys[result.deployment_id]
    assert deploy["state"] == "ready"
    assert stack.netlify.site_files(result.deployment_id) == {
        "/" + p: b for p, b in app.netlify_files().items()
    }
    assert stack.netlify.function_source(result.deployment_id) == app.files["api/infer.js"]
    assert [
        c.query for c in stack.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/functions/{name}")
    ] == [[("runtime", "js")]]
    var = stack.netlify.env[(result.project_id, "RUNPOD_API_KEY")]
    assert var["is_secret"] and var["scopes"] == ["functions"]
    assert {v["context"] for v in var["values"]} == {
        "production",
        "deploy-preview",
        "branch-deploy",
    }
    assert {v["value"] for v in var["values"]} == {DEFAULT_KEY}
    assert not any(DEFAULT_KEY.encode() in raw for raw in stack.netlify.state.files.values())
    assert result.check is not None and result.check.passed, result.check.summary
    assert [s.name for s in result.check.steps] == ["page", "health", "job"]
    assert [r[0] for r in recorder.resources] == ["netlify_site", "netlify_deploy"]


async def test_netlify_rerun_uploads_nothing_and_updates_env(
    netlify: NetlifyPublisher, stack: FakeStack
) -> None:
    spec = spec_for("generic")
    first = await deploy_to_netlify(spec, netlify=netlify, runpod_key=KEY)
    sent = len(stack.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/files/{path}"))
    again = await deploy_to_netlify(spec, netlify=netlify, runpod_key=SecretStr(DEFAULT_KEY + "X"))
    assert (
        not again.reused
        and again.project_id == first.project_id
        and len(stack.netlify.state.sites) == 1
    )
    assert len(stack.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/files/{path}")) == sent
    assert len(stack.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/functions/{name}")) == 1
    assert (
        len(stack.netlify.calls_to("PUT /api/v1/accounts/{account_id}/env/{key}")) == 2
    )  # Updated in place.
    kept = await deploy_to_netlify(spec, netlify=netlify, runpod_key=KEY, previous=again)
    assert kept.reused and len(stack.netlify.state.deploys) == 2


async def test_netlify_plan_without_secrets_falls_back_to_site_variables(
    netlify: NetlifyPublisher, stack: FakeStack
) -> None:
    stack.netlify.fail(
        "POST /api/v1/accounts/{account_id}/env", 422, message="Secret values require a Pro plan"
    )
    result = await deploy_to_netlify(spec_for("image"), netlify=netlify, runpod_key=KEY)
    assert result.env_protection == "plain"
    var = stack.netlify.env[(result.project_id, "RUNPOD_API_KEY")]
    assert var == {"key": "RUNPOD_API_KEY", "values": [{"value": DEFAULT_KEY, "context": "all"}]}


async def test_netlify_failed_deploy_raises_build_failed(
    netlify: NetlifyPublisher, stack: FakeStack
) -> None:
    stack.netlify.state.fail_next_deploy = "Function infer failed to bundle"
    with pytest.raises(BuildFailed, match="Function infer failed to bundle"):
        await deploy_to_netlify(spec_for("image"), netlify=netlify, runpod_key=KEY)
