"""Running a generated worker on the real libraries: render it as a deployment would, and run
its handler.py in the workload venv through the runpod SDK's own `--test_input` mode, or serve
it with the SDK's local API (`--rp_serve_api`) for many jobs to one process."""

from __future__ import annotations

import ast
import contextlib
import http.client
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import need_service
from tests.workloads.env import INSTALL_COMMAND, workload_python
from tools.artifacts.worker import WorkerFiles, WorkerPlan, render_worker

__all__ = ["JobResult", "require_python", "run_worker", "runsync", "serve_worker"]

_RESULT = "| Job result: "
_FAILED = " failed with error: "
# The log file of each URL `serve_worker` is serving, for `runsync` to read its job's lines.
_LOGS: dict[str, Path] = {}


@dataclass(frozen=True)
class JobResult:
    """What RunPod would store for the job: `output` (the handler's return, the SDK's
    `{"output": ...}`) or `error` (the handler's `{"error": ...}`), and the worker's log."""

    output: Any
    error: str | None
    log: str
    returncode: int


def require_python() -> Path:
    """The workload venv's python; skips the test (fails under KRIPTIK_REQUIRE_SERVICES)
    when `scripts/install-workload-env.sh` has not made it for the current pins."""
    python = workload_python()
    if python is None:
        need_service("the workload environment", f"run `{INSTALL_COMMAND}`")
        raise AssertionError("unreachable")
    return python


def _environment(model_dir: Path, scratch: Path, python: Path) -> dict[str, str]:
    return {
        "PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "MODEL_DIR": str(model_dir),
        "KRIPTIK_READY_FILE": str(scratch / "ready"),
        "HF_HOME": str(scratch / "hf-home"),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "RUNPOD_DEBUG_LEVEL": "INFO",
        "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
        "RUNPOD_SKIP_GPU_CHECK": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def _parse(log: str, returncode: int) -> JobResult:
    for line in reversed(log.splitlines()):
        if line.startswith("INFO") and _RESULT in line:
            result = ast.literal_eval(line.split(_RESULT, 1)[1])
            return JobResult(result.get("output"), result.get("error"), log, returncode)
        if line.startswith("ERROR") and _FAILED in line:
            return JobResult(None, line.split(_FAILED, 1)[1], log, returncode)
    raise AssertionError(f"the worker printed no job result (exit {returncode}):\n{log[-6000:]}")


def run_worker(
    worker: WorkerPlan | WorkerFiles,
    model_dir: Path,
    job_input: Any,
    scratch: Path,
    *,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> JobResult:
    """Render `worker` into `scratch/worker` and run one job `{"input": job_input}` through
    `python -u handler.py --test_input ...` in the workload venv, the model read from
    `model_dir` (MODEL_DIR), offline; `env` adds to the worker's environment. Skips (or fails in CI) when the venv is missing."""
    python = require_python()
    files = render_worker(worker, secret=False) if isinstance(worker, WorkerPlan) else worker
    directory = files.write(scratch / "worker")
    done = subprocess.run(
        [str(python), "-u", "handler.py", "--test_input", json.dumps({"input": job_input})],
        cwd=directory,
        env=_environment(model_dir, scratch, python) | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return _parse(done.stdout + done.stderr, done.returncode)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(base_url: str) -> bool:
    """Whether the SDK's API answers (its OpenAPI document) at `base_url`."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        connection.request("GET", "/openapi.json")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


@contextlib.contextmanager
def serve_worker(
    worker: WorkerPlan | WorkerFiles,
    model_dir: Path,
    scratch: Path,
    *,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    cloud_run: bool = False,
) -> Iterator[str]:
    """Render `worker` into `scratch/worker` as `run_worker` does and serve it with the runpod
    SDK's local API (`--rp_serve_api`) on 127.0.0.1 and a free port, in the same environment;
    yields its base URL once it answers, and stops it on exit. Its log is `scratch/worker.log`.
    With `cloud_run`, it starts as Cloud Run starts it: no flags, K_SERVICE and PORT set."""
    python, port = require_python(), _free_port()
    files = render_worker(worker, secret=False) if isinstance(worker, WorkerPlan) else worker
    directory = files.write(scratch / "worker")
    log_path = scratch / "worker.log"
    command = [str(python), "-u", "handler.py", "--rp_serve_api", "--rp_api_host", "127.0.0.1",
               "--rp_api_port", str(port)]  # fmt: skip
    extra = {"K_SERVICE": "kriptik-worker", "PORT": str(port)} if cloud_run else {}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command[:3] if cloud_run else command,
            cwd=directory,
            env=_environment(model_dir, scratch, python) | extra | (env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while not _answers(base_url):  # the model loads before the server listens
                log_tail = log_path.read_text(errors="replace")[-4000:]
                assert process.poll() is None, f"the worker exited:\n{log_tail}"
                assert time.monotonic() < deadline, f"not serving in {timeout} s:\n{log_tail}"
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.2)  # wakes at once if the worker dies
            _LOGS[base_url] = log_path
            yield base_url
        finally:
            _LOGS.pop(base_url, None)
            _stop(process)


def runsync(base_url: str, job_input: Any, *, timeout: float = 300) -> JobResult:
    """POST one job `{"input": job_input}` to a `serve_worker` URL's /runsync: `output` or
    `error` as RunPod stores them (as `run_worker` gives), whole (the `--test_input` log holds
    at most 4096 characters of a result); `log` is what the worker logged during the job and
    `returncode` 1 for a FAILED job, else 0. The API takes only a JSON object as input."""
    log_path = _LOGS.get(base_url)
    start = log_path.stat().st_size if log_path else 0
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        body = json.dumps({"input": job_input})
        connection.request("POST", "/runsync", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    log = ""
    if log_path:
        with log_path.open("rb") as handle:
            handle.seek(start)
            log = handle.read().decode(errors="replace")
    assert response.status == 200, f"HTTP {response.status}: {answer}\n{log[-3000:]}"
    if answer["status"] == "FAILED":
        return JobResult(None, answer["error"], log, 1)
    assert answer["status"] == "COMPLETED", answer
    return JobResult(answer.get("output"), None, log, 0)
