"""`kriptik deploy REPO_ID --gpu auto --yes-i-approve` and `kriptik deployments ...` from a
terminal, against the fakes: the plan alone spends nothing; approved, it deploys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from tests.fakes.all import FakeStack
from tests.fakes.runpod import DEFAULT_KEY
from tests.pipeline.conftest import settings_for
from tests.pipeline.test_crash_resume import REPO, _env
from vault import Vault


def _kriptik(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_deploy_from_the_terminal_needs_approval_then_runs_the_pipeline(
    stack: FakeStack, tmp_path: Path
) -> None:
    stack.reset()
    settings = settings_for(tmp_path / "home", stack)
    vault = await Vault.open(settings)
    admin = await vault.users.create("admin", SecretStr("correct-horse-1"), role="admin")
    await vault.credentials.add(admin.id, "runpod", SecretStr(DEFAULT_KEY))
    await vault.close()
    env = _env(settings) | {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    plan_only = _kriptik(env, "deploy", "kriptik-test/tiny-llama", "--gpu", "auto")
    assert plan_only.returncode == 3, plan_only.stderr
    assert "Plan: kriptik-test/tiny-llama on 1 x " in plan_only.stdout
    assert "A running worker costs $" in plan_only.stdout
    assert "Nothing was created" in plan_only.stdout
    assert stack.runpod.state.templates == {} and stack.runpod.state.endpoints == {}

    run = _kriptik(env, "deploy", "kriptik-test/tiny-llama", "--gpu", "auto", "--yes-i-approve")
    assert run.returncode == 0, run.stdout + run.stderr
    [endpoint_id] = stack.runpod.state.endpoints
    assert f"Ready: endpoint {endpoint_id}" in run.stdout
    assert "Creating the RunPod template." in run.stdout and "openai: " in run.stdout
    assert DEFAULT_KEY not in run.stdout + run.stderr

    listed = json.loads(_kriptik(env, "deployments", "list", "--json").stdout)
    assert [(d["state"], d["endpoint_id"]) for d in listed] == [("ready", endpoint_id)]
    status = _kriptik(env, "deployments", "status", endpoint_id)
    assert status.returncode == 0 and "workers: {" in status.stdout

    down = _kriptik(env, "deployments", "teardown", listed[0]["id"])
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"endpoint {endpoint_id}" in down.stdout
    assert stack.runpod.state.endpoints == {} and stack.runpod.state.templates == {}
    stack.assert_clean()
