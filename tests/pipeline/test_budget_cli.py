"""The budget from the terminal, against the simulator: `kriptik deploy` (a real `kriptik`
process) refuses a plan above what is left of the user's monthly GPU budget, exit code 4,
naming the budget, and creates nothing; `kriptik admin limits set|show` and `kriptik limits
lower|clear` set the limits it reads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.pipeline.conftest import SPEND_CONTROLS, settings_for
from tests.resilience.processes import REPO
from tests.resilience.processes import host_env as _env
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY
from ui.cli import main
from vault import Settings, Vault, get_settings
from vault.deployments import DeploymentStore
from vault.models import utcnow


async def _admin_who_spent(settings: Settings, usd: float) -> None:
    """The CLI's default user, with a RunPod key and a torn-down deployment of this month
    that cost `usd`."""
    vault = await Vault.open(settings)
    admin = await vault.users.create("admin", SecretStr("correct-horse-1"), role="admin")
    await vault.credentials.add(admin.id, "runpod", SecretStr(DEFAULT_KEY))
    now = utcnow()
    await DeploymentStore(vault.sessions).create(
        admin.id, caps=(await vault.limits.effective(admin.id)).caps, repo_id="org/old",
        revision="a" * 40, kind="vllm", name="kriptik-old", state="torn_down", created_at=now,
        ended_at=now, cost_usd=usd,
    )  # fmt: skip
    await vault.close()


def _kriptik(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *argv], cwd=REPO,
        env=env | {"PATH": os.environ.get("PATH", "/usr/bin")},
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_deploy_above_the_budget_exits_non_zero_naming_it(
    stack: FakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    stack.reset()
    settings = settings_for(tmp_path / "home", stack)
    asyncio.run(_admin_who_spent(settings, 1.90))
    env = _env(settings) | {  # the pinned spend controls reach the child process too
        f"KRIPTIK_{name.upper()}": str(value) for name, value in SPEND_CONTROLS.items()
    }
    for name, value in env.items():
        if name.startswith("KRIPTIK_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    # A per-deployment cap above the budget, so that the budget is what binds.
    assert main(["admin", "limits", "set", "admin", "--deployment-cap", "500"]) == 0
    shown = capsys.readouterr().out
    assert "$500.00  (admin)" in shown and "$50.00  (default)" in shown
    assert "Spent this month: $1.90; $48.10 of $50.00 left." in shown

    # 3 workers on the cheapest 24 GB pool for 24 h: 3 x $0.684/h x 24 h = $49.25.
    run = _kriptik(env, "deploy", "kriptik-test/tiny-llama", "--gpu", "AMPERE_24",
                   "--workers-max", "3", "--yes-i-approve")  # fmt: skip
    assert run.returncode == 4, run.stdout + run.stderr
    assert "monthly GPU budget $50.00: $48.10 left ($1.90 spent this month)" in run.stderr
    assert "This plan can cost up to $49.25 (3 workers x $0.68/h x 24 h)" in run.stderr
    assert "--workers-max 2" in run.stderr and "--ttl-minutes 1406" in run.stderr
    assert stack.runpod.state.templates == {} and stack.runpod.state.endpoints == {}
    # What it offered does fit (planned only: no --yes-i-approve).
    ttl = ["--ttl-minutes", "1406"]
    assert main(["deploy", "kriptik-test/tiny-llama", "--gpu", "AMPERE_24", "--workers-max",
                 "3", *ttl]) == 3  # fmt: skip
    assert "can cost at most $48.09 (3 workers x $0.68/h x 23 h 26 min)" in capsys.readouterr().out

    # The user lowers their own budget (never above the admin's); the plan shows it.
    assert main(["limits", "lower", "--monthly-budget", "60"]) == 2
    assert "can be at most $50.00" in capsys.readouterr().err
    assert main(["limits", "lower", "--monthly-budget", "30"]) == 0
    assert "$30.00  (own)" in capsys.readouterr().out
    assert main(["deploy", "kriptik-test/tiny-llama", "--gpu", "AMPERE_24"]) == 3
    assert "$28.10 of your $30.00 monthly budget is left." in capsys.readouterr().out
    assert main(["limits", "clear"]) == 0
    assert "$50.00  (default)" in capsys.readouterr().out
    assert main(["admin", "limits", "set", "admin", "--max-live", "default"]) == 0
    assert main(["admin", "limits", "set", "nobody", "--max-live", "3"]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err
    get_settings.cache_clear()
    stack.assert_clean()
