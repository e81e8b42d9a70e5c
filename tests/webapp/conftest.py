"""Fixtures for the generated web app tests: the provider fakes (served once for the
package, reset per test), generated projects on disk, their local dev servers run by the
real `node`, and the publishing clients on a fake clock (polls never really sleep)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.conftest import need_service
from tests.webapp.fakes import add_endpoint, webapp_stack
from tools.artifacts.client import EndpointInfo
from tools.artifacts.webapp import AppKind, AppSpec, MediaKind, render_app
from tools.clients._http import Retry
from tools.clients.github import GitHubClient
from tools.clients.netlify import NetlifyClient
from tools.clients.vercel import VercelClient
from tools.publish import ResourceKind
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.github import DEFAULT_TOKEN as GITHUB_TOKEN
from tools.simulator.netlify import DEFAULT_TOKEN as NETLIFY_TOKEN
from tools.simulator.runpod import DEFAULT_KEY
from tools.simulator.vercel import DEFAULT_TOKEN as VERCEL_TOKEN

ENDPOINT_ID = "ep0webapp01"
MODEL_ID = "Qwen/Qwen2.5-0.5B-Instruct"


@pytest.fixture(scope="session")
def fakes() -> Iterator[FakeStack]:
    stack = webapp_stack().start()
    yield stack
    stack.stop()


@pytest.fixture
def stack(fakes: FakeStack) -> Iterator[FakeStack]:
    """The fakes, reset, with one ready RunPod endpoint; fails on any contract violation."""
    fakes.reset()
    add_endpoint(fakes, ENDPOINT_ID)
    yield fakes
    fakes.assert_clean()


def spec_for(
    kind: AppKind, *, media: MediaKind | None = None, project: str | None = None, **extra: object
) -> AppSpec:
    """A spec for the fake endpoint (vLLM-style for the chat app)."""
    # Each app names a model of its kind, as a user would see it (the fakes ignore it).
    model_id = {"llm": MODEL_ID, "image": "black-forest-labs/FLUX.1-schnell",
                "media": "tencent/Hunyuan3D-2" if media == "model3d" else "tencent/HunyuanVideo",
                "generic": "facebook/detr-resnet-50"}[kind]  # fmt: skip
    endpoint = EndpointInfo(
        endpoint_id=ENDPOINT_ID, model_id=model_id, openai_compatible=kind == "llm"
    )
    titles = {"llm": "Qwen Chat", "image": "Dream Studio", "media": "Mesh Forge" if media == "model3d" else "Clip Lab",
              "generic": "JSON Playground"}  # fmt: skip
    fields: dict[str, object] = {"kind": kind, "media": media, "endpoint": endpoint, "title": titles[kind],
                                 "project": project or f"demo-{media or kind}"}  # fmt: skip
    return AppSpec.model_validate(fields | extra)


class DevServer:
    """`node dev-server.mjs` of a generated project, pointed at the RunPod jobs fake."""

    def __init__(self, root: Path, process: subprocess.Popen[str], url: str) -> None:
        self.root, self.process, self.url = root, process, url


@contextmanager
def dev_server(root: Path, stack: FakeStack, **env: str) -> Iterator[DevServer]:
    """Run the project's dev server on a free port; the URL comes from its first line."""
    if shutil.which("node") is None:
        need_service("Node.js", "install Node 18 or newer (the generated apps run on it)")
    settings = {
        "RUNPOD_API_KEY": DEFAULT_KEY,
        "RUNPOD_ENDPOINT_ID": ENDPOINT_ID,
        "RUNPOD_API_BASE": stack.url("runpod_jobs") + "/v2",
        "PORT": "0",
    } | env
    process = subprocess.Popen(
        ["node", "dev-server.mjs"], cwd=root, env={"PATH": os.environ["PATH"], **settings},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline()  # Printed once the socket listens.
    if not line.startswith("Listening on "):
        process.kill()
        raise AssertionError(f"dev server did not start: {line}{process.stderr.read()}")
    try:
        yield DevServer(root, process, line.split()[-1])
    finally:
        process.terminate()
        process.wait(timeout=10)


# Where scripts/install-test-tools.sh installs the pinned TypeScript compiler (outside the repo).
TSC = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kriptik/typescript/node_modules/.bin/tsc"  # fmt: skip


def typescript_compiler() -> str:
    """The real `tsc`, from the install script's cache (else PATH), or skip (fail in CI)."""
    if TSC.is_file():
        return str(TSC)
    if found := shutil.which("tsc"):
        return found
    need_service("TypeScript (tsc)", "run scripts/install-test-tools.sh (npm installs it)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("projects")


def write_project(spec: AppSpec, parent: Path) -> Path:
    root = parent / spec.project
    render_app(spec).write_to(root)
    return root


class Recorder:
    def __init__(self) -> None:
        self.resources: list[tuple[ResourceKind, str, str | None]] = []
        self.progress_lines: list[str] = []

    async def record_resource(self, kind: ResourceKind, resource_id: str, url: str | None) -> None:
        self.resources.append((kind, resource_id, url))

    async def progress(self, message: str) -> None:
        self.progress_lines.append(message)


class Routed(httpx.AsyncBaseTransport):
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


def fake_retry(clock: FakeClock) -> Retry:
    return Retry(sleep=clock.sleep, clock=clock.now)


@pytest.fixture
def github(stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock) -> GitHubClient:
    return GitHubClient(
        http=http,
        base_url=stack.url("github"),
        token=SecretStr(GITHUB_TOKEN),
        retry=fake_retry(clock),
    )


@pytest.fixture
def vercel(stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock) -> VercelClient:
    return VercelClient(
        http=http,
        base_url=stack.url("vercel"),
        token=SecretStr(VERCEL_TOKEN),
        retry=fake_retry(clock),
    )


@pytest.fixture
def netlify(stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock) -> NetlifyClient:
    base = stack.url("netlify") + "/api/v1"
    return NetlifyClient(
        http=http, base_url=base, token=SecretStr(NETLIFY_TOKEN), retry=fake_retry(clock)
    )
