"""`kriptik deploy REPO_ID --gpu auto --yes-i-approve` and `kriptik deployments ...`
against the fakes: the plan alone spends nothing; approved, the pipeline runs. The deploy
itself runs as a real `kriptik` process; the other commands run in-process (same code,
without paying for a Python start-up each)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.pipeline.conftest import settings_for
from tests.resilience.processes import REPO
from tests.resilience.processes import host_env as _env
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY
from ui.cli import main
from vault import Settings, Vault, get_settings


async def _admin(settings: Settings) -> None:
    vault = await Vault.open(settings)
    admin = await vault.users.create("admin", SecretStr("correct-horse-1"), role="admin")
    await vault.credentials.add(admin.id, "runpod", SecretStr(DEFAULT_KEY))
    await vault.close()


def test_deploy_from_the_terminal_needs_approval_then_runs_the_pipeline(
    stack: FakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    stack.reset()
    settings = settings_for(tmp_path / "home", stack)
    asyncio.run(_admin(settings))
    env = _env(settings)
    for name, value in env.items():
        if name.startswith("KRIPTIK_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    assert main(["deploy", "kriptik-test/tiny-llama", "--gpu", "auto"]) == 3
    out = capsys.readouterr().out
    assert "Plan: kriptik-test/tiny-llama on 1 x " in out and "A running worker costs $" in out
    assert "Nothing was created" in out
    assert stack.runpod.state.templates == {} and stack.runpod.state.endpoints == {}

    run = subprocess.run(
        [sys.executable, "-m", "ui.cli", "deploy", "kriptik-test/tiny-llama", "--gpu", "auto",
         "--yes-i-approve"], cwd=REPO, env=env | {"PATH": os.environ.get("PATH", "/usr/bin")},
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    [endpoint_id] = stack.runpod.state.endpoints
    assert f"Ready: endpoint {endpoint_id}" in run.stdout
    assert "Creating the RunPod template." in run.stdout and "openai: " in run.stdout
    assert DEFAULT_KEY not in run.stdout + run.stderr

    assert main(["deployments", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(d["state"], d["endpoint_id"]) for d in listed] == [("ready", endpoint_id)]
    assert main(["deployments", "status", endpoint_id]) == 0
    assert "workers: {" in capsys.readouterr().out
    assert main(["deployments", "teardown", listed[0]["id"]]) == 0
    assert f"endpoint {endpoint_id}" in capsys.readouterr().out
    assert stack.runpod.state.endpoints == {} and stack.runpod.state.templates == {}
    assert main(["deployments", "status", "nope"]) == 2
    assert "no deployment or endpoint 'nope'" in capsys.readouterr().err
    get_settings.cache_clear()
    stack.assert_clean()
