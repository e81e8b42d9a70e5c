"""`kriptik deploy REPO --target huggingface|cloudrun` as the user runs it: the composition
root builds the targets (`ui/root.py`), the plan alone creates nothing, and approved, the
durable workflow deploys on Hugging Face Inference Endpoints (a real `kriptik` process)
and `kriptik deployments teardown` leaves zero endpoints.

Its own module: the in-process commands launch the pipeline (DBOS, one per process), so
no fixture here may have launched one."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.conftest import settings_for
from tests.pipeline.target_services import add_admin_with_keys
from tests.resilience.processes import REPO
from tests.resilience.processes import host_env as _env
from tools.simulator.all import FakeStack
from tools.simulator.huggingface import DEFAULT_TOKEN
from tools.targets.cloudrun import L4_USD_PER_HOUR
from ui.cli import main
from vault import get_settings

TINY = "kriptik-test/tiny-llama"


def _settings(stack: FakeStack, home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    stack.reset()
    settings = settings_for(home, stack).model_copy(update={"endpoint_ttl_s": 8 * 3600})
    asyncio.run(add_admin_with_keys(settings, stack.google_oauth.state.new_service_account()))
    env = _env(settings) | {
        "KRIPTIK_ENDPOINT_TTL_S": str(8 * 3600),
        "KRIPTIK_GOOGLE_OAUTH_TOKEN_URL": settings.google_oauth_token_url,
    }
    for name, value in env.items():
        if name.startswith("KRIPTIK_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return env


def test_deploy_to_hugging_face_from_the_terminal_then_tear_it_down(
    stack: FakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    env = _settings(stack, tmp_path / "home", monkeypatch)
    argv = ["deploy", TINY, "--target", "huggingface"]
    assert main(argv) == 3
    out = capsys.readouterr().out
    assert "on Hugging Face Inference Endpoints: NVIDIA T4 16 GB x1" in out
    assert "Nothing was created" in out and stack.hf_endpoints.live() == []

    run = subprocess.run(
        [sys.executable, "-m", "ui.cli", *argv, "--yes-i-approve"], cwd=REPO,
        env=env | {"PATH": os.environ.get("PATH", "/usr/bin")}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    [endpoint] = stack.hf_endpoints.live()
    assert f"Ready: endpoint {endpoint.raw['name']}" in run.stdout
    assert "A running replica costs $0.50/h" in run.stdout
    assert DEFAULT_TOKEN not in run.stdout + run.stderr

    assert main(["deployments", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert main(["deployments", "teardown", listed["id"]]) == 0
    assert stack.hf_endpoints.live() == []
    get_settings.cache_clear()
    stack.assert_clean()


def test_a_cloud_run_plan_from_the_terminal_creates_nothing(
    stack: FakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _settings(stack, tmp_path / "home", monkeypatch)
    assert main(["deploy", TINY, "--target", "cloudrun", "--region", "europe-west1"]) == 3
    out = capsys.readouterr().out
    assert "on Google Cloud Run: NVIDIA L4 24 GB (Google Cloud Run, europe-west1)" in out
    assert f"A running replica costs ${L4_USD_PER_HOUR:.2f}/h" in out
    assert main(["deploy", TINY, "--target", "cloudrun", "--region", "mars-1"]) == 2
    assert "regions with GPUs: europe-west1, europe-west4, us-central1, us-east4" in (
        capsys.readouterr().err
    )
    assert stack.cloudrun.services == {}
    get_settings.cache_clear()
    stack.assert_clean()
