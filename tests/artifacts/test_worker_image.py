"""A generated worker image, for real: built on the local debootstrap base with the Hugging
Face token as a BuildKit secret, pushed to an htpasswd registry and pulled back, its
handler run with `--test_input` in the container and served with `--rp_serve_api` to the
job client production uses, and started as Amazon SageMaker starts it (`docker run IMAGE
serve`). The token never lands in a layer, the history or the config.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.artifacts import worker_image as wi
from tests.artifacts.conftest import requirements
from tools.artifacts.worker import plan_worker, render_worker
from tools.clients.errors import AuthError, BuildFailed
from tools.clients.runpod_jobs import RunPodJobsClient
from tools.pipeline.images import ImageService
from tools.simulator.huggingface import DEFAULT_TOKEN
from tools.simulator.server import serve

pytestmark = pytest.mark.docker

TOKEN = DEFAULT_TOKEN


@dataclass(frozen=True)
class Built:
    ref: str
    context: Path
    seconds: float
    lines: list[str]


@pytest.fixture(scope="module")
def env() -> Iterator[wi.DockerEnv]:
    yield from wi.docker_env()


@pytest.fixture(scope="module")
def client(env: wi.DockerEnv) -> Iterator[Any]:
    engine: Any = docker.DockerClient(base_url=env.services.docker_host)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def images(env: wi.DockerEnv) -> ImageService:
    return ImageService(docker_cli=wi.DOCKER_CLI, docker_host=env.services.docker_host)


def _context(env: wi.DockerEnv, directory: Path) -> Path:
    sha = env.hf.repos[wi.GATED].sha
    req = requirements("transformers", repo_id=wi.GATED, sha=sha, gated=True)
    plan = plan_worker(req, base_image=env.base_image)
    return wi.stub_context(render_worker(plan, secret=True).write(directory))


@pytest.fixture(scope="module")
async def built(
    env: wi.DockerEnv, images: ImageService, tmp_path_factory: pytest.TempPathFactory
) -> Built:
    context = _context(env, tmp_path_factory.mktemp("worker"))
    ref = f"{env.services.registry}/kriptik/worker-test:{uuid.uuid4().hex[:12]}"
    lines: list[str] = []
    started = time.monotonic()
    await images.build(
        context,
        ref,
        hf_token=SecretStr(TOKEN),
        on_line=lines.append,
        build_args={"HF_ENDPOINT": env.hf_url, **wi.BUILD_ARGS, "WEIGHTS_CACHE_SCOPE": "tester"},
    )
    return Built(ref, context, time.monotonic() - started, lines)


def _run(client: Any, image: str, *args: str) -> tuple[int, str]:
    container = client.containers.run(image, list(args), network_mode="none", detach=True)
    try:
        code = container.wait(timeout=120)["StatusCode"]
        return code, container.logs().decode()
    finally:
        container.remove(force=True)


def test_the_secret_build_downloads_the_gated_weights(built: Built, client: Any) -> None:
    code, out = _run(client, built.ref, "ls", "-a", "/models/model")
    assert code == 0
    assert {"config.json", "model.safetensors", ".kriptik-complete"} <= set(out.split())
    assert any("kriptik: kriptik-test/gated-llama@" in line for line in built.lines)


def test_the_token_is_in_no_history_config_layer_or_log(
    env: wi.DockerEnv, built: Built, client: Any
) -> None:
    history = subprocess.run(
        [
            str(wi.DOCKER_CLI),
            "--host",
            env.services.docker_host,
            "history",
            "--no-trunc",
            built.ref,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "fetch_weights.py" in history and TOKEN not in history
    assert TOKEN not in json.dumps(client.api.inspect_image(built.ref))
    assert not wi.contains(client.images.get(built.ref).save(), TOKEN.encode())
    assert not any(TOKEN in line for line in built.lines)


def test_without_the_secret_the_same_build_is_refused(env: wi.DockerEnv, tmp_path: Path) -> None:
    context = _context(env, tmp_path)
    run = subprocess.run(
        [
            str(wi.DOCKER_CLI),
            "--host",
            env.services.docker_host,
            "build",
            "--network",
            "host",
            "--build-arg",
            f"HF_ENDPOINT={env.hf_url}",
            "--build-arg",
            "UV_SYSTEM_CERTS=true",
            "--build-arg",
            "WEIGHTS_CACHE_SCOPE=someone-without-access",
            "--progress",
            "plain",
            "-t",
            "kriptik-test/no-secret:1",
            str(context),
        ],
        env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode != 0
    assert "GatedRepo" in run.stdout + run.stderr or "401" in run.stdout + run.stderr


async def test_push_needs_auth_then_pull_brings_the_same_image_back(
    env: wi.DockerEnv, images: ImageService, built: Built, client: Any
) -> None:
    with pytest.raises((AuthError, BuildFailed)):
        await images.push(built.ref, None, on_line=lambda _: None)
    digest = await images.push(built.ref, env.login, on_line=lambda _: None)
    assert digest.startswith("sha256:")
    assert await images.remote_digest(built.ref, env.login) == digest
    before = client.images.get(built.ref).id
    assert await images.remove_local(built.ref)
    assert await images.pull(built.ref, env.login) == before


def test_the_handler_runs_its_test_input_in_the_container(built: Built, client: Any) -> None:
    job = json.dumps({"input": {"inputs": "hello `id` $(id) é", "parameters": {"n": 1}}})
    code, out = _run(
        client, built.ref, "python3", "-u", "/opt/worker/handler.py", "--test_input", job
    )
    assert code == 0, out
    assert "kriptik-worker ready repo=kriptik-test/gated-llama" in out
    assert "'echo': {'inputs': 'hello `id` $(id) é', 'parameters': {'n': 1}}" in out
    code, out = _run(
        client,
        built.ref,
        "python3",
        "-u",
        "/opt/worker/handler.py",
        "--test_input",
        json.dumps({"input": {"inputs": 7}}),
    )
    assert code == 1
    assert "invalid input: inputs must be a string" in out
    code, out = _run(client, built.ref, "id", "-u")
    assert (code, out.strip()) == (0, "10001")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _local_api_proxy(target: str) -> Starlette:
    """Production job URLs (`/{endpoint}/runsync`, `GET /{endpoint}/status/{id}`) onto
    runpod's local API (`/runsync`, `POST /status/{id}`), which has no endpoint prefix."""

    async def forward(request: Request) -> Response:
        path = "/" + request.path_params["rest"]
        async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
            answer = await http.post(
                target + path,
                content=await request.body(),
                headers={"content-type": "application/json"},
            )
        return Response(answer.content, answer.status_code, media_type="application/json")

    return Starlette(routes=[Route("/{endpoint}/{rest:path}", forward, methods=["GET", "POST"])])


async def test_the_local_api_answers_the_production_job_client(built: Built, client: Any) -> None:
    port = _free_port()
    container = client.containers.run(
        built.ref,
        [
            "python3",
            "-u",
            "/opt/worker/handler.py",
            "--rp_serve_api",
            "--rp_api_host",
            "127.0.0.1",
            "--rp_api_port",
            str(port),
        ],
        network_mode="host",
        detach=True,
    )
    try:
        # Wait on the state itself: uvicorn's own line saying it listens.
        for raw in container.logs(stream=True, follow=True):
            if b"Uvicorn running" in raw or b"Application startup complete" in raw:
                break
        with serve(_local_api_proxy(f"http://127.0.0.1:{port}")) as url:
            async with httpx.AsyncClient(trust_env=False) as http:
                jobs = RunPodJobsClient(http=http, base_url=url, token=SecretStr("local-key"))
                job = await jobs.run_sync("local", {"inputs": "via the queue", "parameters": {}})
                assert job.status == "COMPLETED"
                assert job.output["echo"] == {"inputs": "via the queue", "parameters": {}}
                bad = await jobs.run_sync("local", {"inputs": ["not", "text"]})
                assert bad.status == "FAILED"
                assert "inputs must be a string" in str(bad.error)
    finally:
        container.remove(force=True)


# Runs inside the container: SageMaker's calls on the container's own 0.0.0.0:8080, each
# answered as [status, JSON body]; the cases arrive as argv[1].
_SAGEMAKER_PROBE = """
import json, sys, urllib.error, urllib.request
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(method, path, body):
    data = None if body is None else body.encode()
    request = urllib.request.Request("http://127.0.0.1:8080" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with http.open(request, timeout=60) as answer:
            return [answer.status, json.loads(answer.read())]
    except urllib.error.HTTPError as answer:
        return [answer.code, json.loads(answer.read())]
print(json.dumps([call(*case) for case in json.loads(sys.argv[1])]))
"""


def test_sagemaker_starts_it_with_serve_on_port_8080(built: Built, client: Any) -> None:
    config = client.api.inspect_image(built.ref)["Config"]
    assert config["Cmd"] == ["python3", "-u", "/opt/worker/handler.py"]  # RunPod, Cloud Run
    assert not config["Entrypoint"] and "8080/tcp" in config["ExposedPorts"]
    # Exactly SageMaker's start: `serve` as the command, no flags, no environment.
    container = client.containers.run(built.ref, ["serve"], network_mode="none", detach=True)
    try:
        # Wait on the state itself: the line saying it listens (after the model loaded).
        for raw in container.logs(stream=True, follow=True):
            if b"serving SageMaker on" in raw:
                assert b"0.0.0.0:8080" in raw
                break
        job = {"inputs": "hello `id` $(id) é", "parameters": {"n": 1}}
        cases = [
            ["GET", "/ping", None],
            ["POST", "/invocations", json.dumps(job)],
            ["POST", "/invocations", json.dumps({"inputs": 7})],
            ["POST", "/invocations", "not json"],
        ]
        code, out = container.exec_run(["python3", "-c", _SAGEMAKER_PROBE, json.dumps(cases)])
        assert code == 0, out.decode()
        ping, done, bad, garbled = json.loads(out)
        container.stop(timeout=20)  # SIGTERM, as SageMaker stops it
        assert container.wait(timeout=30)["StatusCode"] == 0  # not SIGKILLed
    finally:
        container.remove(force=True)
    assert ping == [200, {"status": "ok", "model": wi.GATED}]
    assert done[0] == 200
    assert done[1]["echo"] == job
    assert {"config.json", "model.safetensors"} <= set(done[1]["files"])  # the baked weights
    assert bad == [400, {"error": "invalid input: inputs must be a string"}]
    assert garbled[0] == 400 and garbled[1]["error"].startswith("invalid input: the body is not")


async def test_a_code_change_rebuilds_only_the_code_layer(
    env: wi.DockerEnv, images: ImageService, built: Built
) -> None:
    handler = built.context / "handler.py"
    handler.write_text(handler.read_text() + "\n# a code change\n")
    lines: list[str] = []
    started = time.monotonic()
    await images.build(
        built.context,
        built.ref + "-code",
        hf_token=SecretStr(TOKEN),
        on_line=lines.append,
        build_args={"HF_ENDPOINT": env.hf_url, **wi.BUILD_ARGS, "WEIGHTS_CACHE_SCOPE": "tester"},
    )
    seconds = time.monotonic() - started
    cached = [line for line in lines if line.endswith("CACHED")]
    assert len(cached) >= 4, lines  # requirements, dependencies, user, weights
    assert seconds < built.seconds
