"""`kriptik demo --once`: one headless turn on the simulator, through the real console
script in a subprocess, with the real LLM path (openai SDK + pydantic-ai) against the
simulated assistant. The exit status says whether every deployment reached its end.

The process is given a user's real-looking configuration (a home with a key file, a
database URL, an LLM server beyond loopback): the demo must use none of it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services.kriptik import PROJECT_ROOT

DEPLOY = "Deploy Qwen/Qwen2.5-0.5B-Instruct as an API"


def _user_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment as a real user's: their home, their settings (all unreachable)."""
    home = tmp_path / "real-home"
    (home / ".kriptik").mkdir(parents=True)
    (home / ".kriptik" / "master.key").write_text("keep me\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRIPTIK_")}
    env |= {
        "HOME": str(home),
        "PYTHONUNBUFFERED": "1",
        "KRIPTIK_HOME": str(home / ".kriptik"),
        "KRIPTIK_DATABASE_URL": "postgresql+asyncpg://nobody@192.0.2.1/real",
        "KRIPTIK_LLM_BASE_URL": "http://192.0.2.1:11434/v1",
        "KRIPTIK_RUNPOD_REST_BASE_URL": "https://api.runpod.io/v2",
    }
    return env, home


def _demo(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    env, home = _user_env(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "ui.cli", "demo", "--once", DEPLOY, *args],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    return run, home


def _untouched(home: Path) -> None:
    files = sorted(p.relative_to(home) for p in home.rglob("*") if p.is_file())
    assert files == [Path(".kriptik/master.key")], files
    assert (home / ".kriptik" / "master.key").read_text() == "keep me\n"


def test_a_deploy_reaches_a_ready_endpoint_and_exits_0(tmp_path: Path) -> None:
    run, home = _demo(tmp_path, "--approve")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "SIMULATION" in out
    assert f"you> {DEPLOY}" in out
    assert "✓ create_runpod_endpoint [success]" in out
    endpoint = re.search(r"^endpoint: (\S+) \(Qwen/Qwen2\.5-0\.5B-Instruct, ready\)$", out, re.M)
    assert endpoint is not None, out
    # The assistant's closing words name the endpoint the simulated RunPod created.
    closing = out[out.rindex("kriptik> ") :]
    assert endpoint.group(1) in closing, closing
    assert out.rstrip().endswith("Done.")
    _untouched(home)


def test_a_failed_endpoint_create_exits_non_zero_and_names_the_stage(tmp_path: Path) -> None:
    run, home = _demo(tmp_path, "--approve", "--fail", "endpoint")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Done." not in run.stdout
    failed = [line for line in run.stderr.splitlines() if line.startswith("FAILED: ")]
    assert failed, run.stderr
    assert any("at stage 'creating_endpoint'" in line for line in failed), failed
    _untouched(home)


def test_without_approve_nothing_is_created(tmp_path: Path) -> None:
    run, home = _demo(tmp_path)
    assert "⊘ create_runpod_endpoint [denied]" in run.stdout, run.stdout + run.stderr
    assert "\nendpoint: " not in run.stdout
    assert run.returncode == 0, run.stderr  # nothing was started, so nothing failed
    _untouched(home)


@pytest.mark.parametrize("flag", ["--fail"])
def test_fail_names_only_known_steps(tmp_path: Path, flag: str) -> None:
    env, _ = _user_env(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "ui.cli", "demo", "--once", DEPLOY, flag, "nowhere"],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2 and "invalid choice" in run.stderr
