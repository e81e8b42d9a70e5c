"""The built wheel, installed into a fresh virtual environment, runs the demo on its own:
no checkout beside it (it runs from an empty folder), no `tests` package, and the prompts,
the simulator's provider specs and Chainlit's app root all come from the wheel.

Offline: the fresh environment is filled from uv's cache (warmed by `uv sync`) through
the lock file, so the test sends nothing beyond loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import need_service
from tests.services.kriptik import PROJECT_ROOT


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        need_service("uv", "install it with `python3 -m pip install uv` (make does)")
    assert found is not None
    return found


def _run(*argv: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    run = subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert run.returncode == 0, f"{argv[:3]} exited {run.returncode}:\n{run.stdout}\n{run.stderr}"
    return run.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the project's locked runtime dependencies and the built wheel."""
    uv, root = _uv(), tmp_path_factory.mktemp("wheel")
    _run(uv, "build", "--wheel", "--out-dir", str(root / "dist"), "-q", cwd=PROJECT_ROOT)
    [wheel] = (root / "dist").glob("kriptik-*.whl")
    venv = root / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
    _run(
        uv, "sync", "--frozen", "--offline", "--no-dev", "--no-install-project", "-q",
        "--python", sys.executable, cwd=PROJECT_ROOT, env=env,
    )  # fmt: skip
    python = venv / "bin" / "python"
    _run(uv, "pip", "install", "--offline", "--no-deps", "-q", "--python", str(python),
         str(wheel), cwd=root)  # fmt: skip
    return venv


def test_the_wheel_ships_prompts_specs_and_the_app_root() -> None:
    uv = _uv()
    out = PROJECT_ROOT / ".whl"
    _run(uv, "build", "--wheel", "--out-dir", str(out), "-q", cwd=PROJECT_ROOT)
    [wheel] = out.glob("kriptik-*.whl")
    try:
        names = set(zipfile.ZipFile(wheel).namelist())
    finally:
        shutil.rmtree(out)
    for name in (
        "prompts/system.md",
        "tools/simulator/specs/runpod-rest-v2.openapi.json",
        "ui/app_root/chainlit.md",
        "ui/app_root/.chainlit/config.toml",
        "ui/app_root/public/simulation.js",
        "ui/app_root/public/elements/SecretInput.jsx",
    ):
        assert name in names, name
    assert not any(n.startswith("tests/") for n in names)


def test_the_installed_wheel_runs_a_demo_deploy(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRIPTIK_", "PYTHON"))}
    env |= {"HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    out = _run(
        str(installed / "bin" / "kriptik"), "demo", "--once",
        "Deploy Qwen/Qwen2.5-0.5B-Instruct as an API", "--approve",
        cwd=elsewhere, env=env,
    )  # fmt: skip
    assert "(Qwen/Qwen2.5-0.5B-Instruct, ready)" in out, out
    assert out.rstrip().endswith("Done."), out
    # It ran the installed copy, not this checkout.
    where = _run(
        str(installed / "bin" / "python"), "-c", "import ui, agent; print(ui.__file__)",
        cwd=elsewhere, env=env,
    )  # fmt: skip
    assert str(installed) in where and str(PROJECT_ROOT) not in where
    assert list(elsewhere.iterdir()) == []
