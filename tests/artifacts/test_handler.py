"""The generated handler: typed input validation, and errors returned as results instead of
crashes, in-process on a stub pipeline and through runpod's own `--test_input` mode; and its
SageMaker server (`GET /ping`, `POST /invocations`), in-process and as the process that
SageMaker's `serve` starts."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from tests.artifacts.conftest import write_stub_worker
from tests.artifacts.dockerfile_rules import parse
from tests.artifacts.test_values import nasty
from tools.artifacts.worker import WorkerPlan, render_worker


@pytest.fixture
def image_handler(
    plan_for: Callable[..., WorkerPlan], load_handler: Callable[[WorkerPlan], ModuleType]
) -> ModuleType:
    return load_handler(plan_for("diffusers"))


@pytest.fixture
def text_handler(
    plan_for: Callable[..., WorkerPlan], load_handler: Callable[[WorkerPlan], ModuleType]
) -> ModuleType:
    return load_handler(plan_for("transformers"))


def test_defaults_fill_in_and_types_are_checked(image_handler: ModuleType) -> None:
    params = image_handler.validate({"prompt": "a cat", "width": 512})
    assert params == {
        "prompt": "a cat",
        "negative_prompt": "",
        "num_inference_steps": 30,
        "guidance_scale": 7.0,
        "width": 512,
        "height": 1024,
        "seed": None,
    }


@pytest.mark.parametrize(
    ("job_input", "message"),
    [
        ("a cat", "input must be a JSON object"),
        ({}, "prompt is required"),
        ({"prompt": "  "}, "prompt must not be empty"),
        ({"prompt": 3}, "prompt must be a string"),
        ({"prompt": "x", "steps": 3}, "unknown field(s) steps"),
        ({"prompt": "x", "width": 513}, "width must be a multiple of 8"),
        ({"prompt": "x", "width": 4096}, "width must be between 64 and 2048"),
        ({"prompt": "x", "num_inference_steps": 2.5}, "must be a whole number"),
        ({"prompt": "x", "seed": True}, "seed must be a number"),
        ({"prompt": "x" * 4001}, "longer than 4000"),
    ],
)
def test_bad_input_is_an_error_result_not_a_crash(
    image_handler: ModuleType, job_input: object, message: str
) -> None:
    result = image_handler.handler({"id": "j1", "input": job_input})
    assert set(result) == {"error"}
    assert result["error"].startswith("invalid input: ")
    assert message in result["error"]


def test_a_failing_pipeline_is_an_error_result(text_handler: ModuleType) -> None:
    result = text_handler.handler({"id": "j1", "input": {"inputs": "raise"}})
    assert result == {"error": "RuntimeError: the stub pipeline was told to fail"}


def test_an_unexpected_error_names_no_path(
    text_handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fail(loaded: object, params: object) -> None:
        raise OSError(f"{tmp_path}/model/config.json is unreadable (see /usr/lib/x.py)")

    monkeypatch.setattr(text_handler.pipeline, "run", fail)
    result = text_handler.handler({"id": "j1", "input": {"inputs": "x"}})
    assert result == {"error": "OSError: <path> is unreadable (see <path>)"}


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=nasty.filter(lambda t: t.strip() and len(t) <= 100_000))
def test_any_text_reaches_the_pipeline_unchanged(text_handler: ModuleType, text: str) -> None:
    result = text_handler.handler({"id": "j", "input": {"inputs": text, "parameters": {}}})
    assert result["echo"] == {"inputs": text, "parameters": {}}


def _run(directory: Path, job: object, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "MODEL_DIR": str(tmp_path),
        "KRIPTIK_READY_FILE": str(tmp_path / "ready"),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RUNPOD_DEBUG_LEVEL": "INFO",
        "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
        "RUNPOD_SKIP_GPU_CHECK": "true",
    }
    return subprocess.run(
        [sys.executable, "-u", "handler.py", "--test_input", json.dumps(job)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_runpod_test_input_mode_runs_the_job(
    plan_for: Callable[..., WorkerPlan], tmp_path: Path
) -> None:
    directory = write_stub_worker(plan_for("transformers"), tmp_path / "worker")
    (tmp_path / "model.safetensors").write_bytes(b"0")
    ok = _run(directory, {"input": {"inputs": "hi `id` $(id) é"}}, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "kriptik-worker ready repo=kriptik-test/tiny" in ok.stdout
    assert "'echo': {'inputs': 'hi `id` $(id) é', 'parameters': {}}" in ok.stdout
    assert (tmp_path / "ready").is_file()
    # The failing case (exit 1) runs in the worker image: tests/artifacts/test_worker_image.py.


@contextmanager
def _sagemaker(module: ModuleType) -> Iterator[httpx.Client]:
    """The handler's SageMaker server on a free loopback port, and a client for it."""
    server = module.sagemaker_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with httpx.Client(base_url=base, trust_env=False, timeout=30) as http:
            yield http
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def test_sagemaker_ping_then_an_invocation_answers_the_output(text_handler: ModuleType) -> None:
    with _sagemaker(text_handler) as http:
        ping = http.get("/ping")
        done = http.post("/invocations", json={"inputs": "hi `id` é", "parameters": {"k": 2}})
    assert ping.status_code == 200
    assert ping.json() == {"status": "ok", "model": "kriptik-test/tiny"}
    assert done.status_code == 200
    assert done.headers["content-type"] == "application/json"
    assert done.json()["echo"] == {"inputs": "hi `id` é", "parameters": {"k": 2}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"inputs": 7}', "invalid input: inputs must be a string"),
        (b'{"parameters": {}}', "invalid input: inputs is required"),
        (b'{"input": {"inputs": "x"}}', "invalid input: unknown field(s) input"),  # no wrapper
        (b'["x"]', "invalid input: input must be a JSON object"),
        (b"inputs=hello", "invalid input: the body is not JSON"),
        (b"\xff\xfe\x00garbage", "invalid input: the body is not JSON"),
        (b"", "invalid input: the body is not JSON"),
        (b"[" * 100_000, "invalid input: the body is not JSON"),  # nested too deep to parse
    ],
)
def test_sagemaker_bad_input_is_a_400_with_the_reason(
    text_handler: ModuleType, body: bytes, message: str
) -> None:
    with _sagemaker(text_handler) as http:
        answer = http.post("/invocations", content=body)
        after = http.post("/invocations", json={"inputs": "still up"})
    assert answer.status_code == 400
    assert set(answer.json()) == {"error"} and answer.json()["error"].startswith(message)
    assert after.status_code == 200


def test_sagemaker_a_failing_model_is_a_500_and_the_worker_stays_up(
    text_handler: ModuleType,
) -> None:
    with _sagemaker(text_handler) as http:
        failed = http.post("/invocations", json={"inputs": "raise"})
        after = http.post("/invocations", json={"inputs": "next"})
    assert failed.status_code == 500
    assert failed.json() == {"error": "RuntimeError: the stub pipeline was told to fail"}
    assert after.status_code == 200 and after.json()["echo"]["inputs"] == "next"


def test_sagemaker_an_output_json_cannot_hold_is_a_500(
    text_handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_handler.pipeline, "run", lambda loaded, params: {"x": float("nan")})
    with _sagemaker(text_handler) as http:
        answer = http.post("/invocations", json={"inputs": "x"})
    assert answer.status_code == 500
    assert answer.json()["error"].startswith("ValueError: Out of range float values")


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/", 404, None),
        ("POST", "/predict", 404, None),
        ("GET", "/invocations", 405, "POST"),
        ("POST", "/ping", 405, "GET"),
        ("PUT", "/invocations", 405, "POST"),
        ("DELETE", "/ping", 405, "GET"),
    ],
)
def test_sagemaker_other_paths_and_methods_are_refused(
    text_handler: ModuleType, method: str, path: str, status: int, allow: str | None
) -> None:
    with _sagemaker(text_handler) as http:
        answer = http.request(method, path, content=b'{"inputs": "x"}')
    assert answer.status_code == status
    assert answer.headers.get("allow") == allow
    assert "error" in answer.json()


def _raw(port: int, head: str) -> bytes:
    """Send request headers only (no body) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        chunks: list[bytes] = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_sagemaker_refuses_a_body_too_large_before_reading_it(text_handler: ModuleType) -> None:
    server = text_handler.sagemaker_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        # The length alone decides: the server answers without waiting for 32 MiB.
        big = _raw(port, f"POST /invocations HTTP/1.1\r\nContent-Length: {32 * 2**20 + 1}\r\n\r\n")
        chunked = _raw(port, "POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        bogus = _raw(port, "POST /invocations HTTP/1.1\r\nContent-Length: ²\r\n\r\n")
    finally:
        server.shutdown()
        server.server_close()
    assert big.startswith(b"HTTP/1.0 413 ") and b"at most 33554432 are accepted" in big
    assert chunked.startswith(b"HTTP/1.0 411 ")
    assert bogus.startswith(b"HTTP/1.0 400 ")


def test_sagemaker_ping_answers_while_a_job_runs(
    text_handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(loaded: object, params: dict[str, Any]) -> dict[str, Any]:
        started.set()
        assert release.wait(timeout=30)
        return {"done": params["inputs"]}

    monkeypatch.setattr(text_handler.pipeline, "run", slow)
    answers: list[httpx.Response] = []
    with _sagemaker(text_handler) as http:
        job = threading.Thread(
            target=lambda: answers.append(http.post("/invocations", json={"inputs": "long"}))
        )
        job.start()
        assert started.wait(timeout=30)
        ping = http.get("/ping")  # SageMaker replaces an instance whose ping stalls
        release.set()
        job.join(timeout=30)
    assert ping.status_code == 200
    assert [a.status_code for a in answers] == [200] and answers[0].json() == {"done": "long"}


def test_sagemaker_mode_serves_logs_no_body_and_stops_on_sigterm(
    plan_for: Callable[..., WorkerPlan], tmp_path: Path
) -> None:
    directory = write_stub_worker(plan_for("transformers"), tmp_path / "worker")
    marker = "private-prompt-4f1c"
    env = {
        "MODEL_DIR": str(tmp_path),
        "KRIPTIK_READY_FILE": str(tmp_path / "ready"),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KRIPTIK_SERVE_HOST": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": "0",  # any free port; the log line names it
    }
    process = subprocess.Popen(
        [sys.executable, "-u", "handler.py", "--sagemaker"],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:  # wait on the state: the line saying it listens
            lines.append(line)
            if found := re.search(r"serving SageMaker on 127\.0\.0\.1:(\d+)", line):
                break
        else:
            pytest.fail("".join(lines))
        base = f"http://127.0.0.1:{found.group(1)}"
        with httpx.Client(base_url=base, trust_env=False, timeout=30) as http:
            assert http.get("/ping").status_code == 200
            ok = http.post("/invocations", json={"inputs": marker})
            bad = http.post("/invocations", content=f"not json {marker}".encode())
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    log = "".join(lines) + rest
    assert (ok.status_code, bad.status_code) == (200, 400)
    assert ok.json()["echo"]["inputs"] == marker
    assert process.returncode == 0, log
    assert '"POST /invocations HTTP/1.1" 200' in log and '"POST /invocations HTTP/1.1" 400' in log
    assert "/ping" not in log  # health checks every few seconds stay out of the log
    assert marker not in log


@pytest.mark.parametrize("weights", ["baked", "network_volume"])
def test_the_image_has_sagemakers_serve_and_keeps_its_cmd(
    plan_for: Callable[..., WorkerPlan], weights: str
) -> None:
    files = render_worker(plan_for("diffusers", weights=weights), secret=True).files
    ins = [(i.keyword, i.args) for i in parse(files["Dockerfile"])]
    copy = ins.index(("COPY", "serve /usr/local/bin/serve"))
    assert ins[copy + 1] == ("RUN", "chmod 0755 /usr/local/bin/serve")
    assert copy < ins.index(("USER", "10001:10001"))  # root installs it
    assert ins[-1] == ("CMD", '["python3", "-u", "/opt/worker/handler.py"]')  # RunPod, Cloud Run
    assert ("EXPOSE", "8080") in ins and not any(k == "ENTRYPOINT" for k, _ in ins)
    assert "!serve\n" in files[".dockerignore"]
    script = files["serve"].splitlines()
    assert script[0] == "#!/bin/sh"
    assert script[-1] == 'exec python3 -u /opt/worker/handler.py --sagemaker "$@"'
