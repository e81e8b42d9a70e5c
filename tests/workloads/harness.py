"""Running a generated worker on the real libraries: render it as a deployment would, and run
its handler.py in the workload venv through the runpod SDK's own `--test_input` mode."""

from __future__ import annotations

import ast
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import need_service
from tests.workloads.env import INSTALL_COMMAND, workload_python
from tools.artifacts.worker import WorkerFiles, WorkerPlan, render_worker

__all__ = ["JobResult", "require_python", "run_worker"]

_RESULT = "| Job result: "
_FAILED = " failed with error: "


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
