"""The workload tests' Python environment: the generated workers' pinned requirements, in one
isolated venv cached outside the repo and found by the hash of what it holds.

`scripts/install-workload-env.sh` creates it (`python -m tests.workloads.env install`);
tests only look it up (`workload_python`), and skip or fail when it is missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

from tools.artifacts.worker import WorkerPlan, plan_worker, render_worker
from tools.artifacts.worker.comfy import COMFY_PINS
from tools.sizing import ModelRequirements

__all__ = [
    "INSTALL_COMMAND",
    "SHA",
    "env_dir",
    "install",
    "requirement_lines",
    "worker_plan",
    "workload_python",
]

SHA: Final = "0123456789abcdef0123456789abcdef01234567"
INSTALL_COMMAND: Final = "scripts/install-workload-env.sh"
# Torch's wheels come from PyPI, as in the image: PyPI's Linux torch runs on CPU as well
# (download.pytorch.org, home of the CPU-only wheels, is not reachable from every CI).
# What the tests themselves need in the venv beyond the workers' own requirements: nothing
# today (the tiny models are built with transformers/diffusers/tokenizers, the WAV with `wave`).
TEST_EXTRAS: Final[tuple[str, ...]] = ()
_COMPLETE: Final = ".kriptik-complete"
# A task of each transformers worker shape (the generic pipeline, embeddings, speech).
_TASKS: Final = ("text-generation", "feature-extraction", "automatic-speech-recognition")


def worker_plan(library: str, task: str) -> WorkerPlan:
    """A plan from `plan_worker`, as a deployment makes it (fp32), for a model of this
    library and task (the Hub's pipeline tag) whose architecture vLLM does not serve."""
    req = ModelRequirements(
        repo_id="kriptik-test/tiny",
        sha=SHA,
        library=library,
        pipeline_tag=task,
        weights_bytes=1_000_000,
        weight_format="safetensors",
    )
    return plan_worker(req, dtype="fp32")


def _packages(plan: WorkerPlan) -> list[str]:
    text = render_worker(plan, secret=False).files["requirements.txt"]
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def requirement_lines() -> list[str]:
    """The requirements of every generated worker family and task (one venv serves all),
    the ComfyUI worker's handler (its ComfyUI is the tests' stub), plus the tests' own
    extras; two workers never pin one package differently."""
    plans = [
        worker_plan("diffusers", "text-to-image"),
        *(worker_plan("transformers", task) for task in _TASKS),
    ]
    lines = {line for plan in plans for line in _packages(plan)} | set(TEST_EXTRAS)
    lines |= {f"{name}=={version}" for name, version in COMFY_PINS.items()}  # (+ runpod)
    names = [line.split("==")[0] for line in lines]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise RuntimeError(f"generated workers pin {clashes} at different versions")
    return sorted(lines)


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kriptik" / "workloads"


def env_dir() -> Path:
    """Where the venv for the current pins lives (whether or not it exists yet)."""
    key = "\n".join([*requirement_lines(), sys.version.split()[0]])
    return _cache_root() / hashlib.sha256(key.encode()).hexdigest()[:16]


def workload_python() -> Path | None:
    """The venv's python, or None until `install` has completed for the current pins."""
    directory = env_dir()
    python = directory / "bin" / "python"
    return python if (directory / _COMPLETE).is_file() and python.is_file() else None


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def install() -> Path:
    """Create the venv for the current pins (idempotent) and return its python."""
    if (ready := workload_python()) is not None:
        return ready
    directory = env_dir()
    shutil.rmtree(directory, ignore_errors=True)
    directory.parent.mkdir(parents=True, exist_ok=True)
    run: dict[str, Any] = {"check": True, "stdout": sys.stderr}
    subprocess.run([*_uv(), "venv", "--quiet", "--python", sys.executable, str(directory)], **run)
    requirements = directory / "requirements.txt"
    requirements.write_text("\n".join(requirement_lines()) + "\n", encoding="utf-8")
    python = directory / "bin" / "python"
    subprocess.run(
        [*_uv(), "pip", "install", "--quiet", "--python", str(python),
         "--requirement", str(requirements)],
        **run,
    )  # fmt: skip
    (directory / _COMPLETE).write_text(requirements.read_text(encoding="utf-8"), encoding="utf-8")
    return python


def main(argv: list[str]) -> int:
    if argv == ["install"]:
        sys.stdout.write(f"{install()}\n")
        return 0
    if argv == ["path"]:
        found = workload_python()
        sys.stdout.write(f"{found or f'not installed: run {INSTALL_COMMAND}'}\n")
        return 0 if found else 1
    sys.stderr.write("usage: python -m tests.workloads.env install|path\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
