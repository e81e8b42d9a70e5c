"""The generated worker's weights cache on a root-owned network volume, with real
permissions: the generated fetch_weights.py runs as the worker's uid 10001 (a subprocess
that drops root with setuid) against directories that root owns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tools.artifacts.worker import WorkerPlan, render_worker

WORKER_UID = 10001
# The system interpreter: uid 10001 cannot enter /root, where the project's venv python is.
PYTHON = "/usr/bin/python3"
# Runs as uid 10001: which directory the worker picks, and whether it can write there.
PROBE = """
import json, sys
import fetch_weights
chosen = fetch_weights.choose_dir(sys.argv[1])
chosen.mkdir(parents=True, exist_ok=True)
(chosen / "weights.bin").write_bytes(b"w")
print(json.dumps({"chosen": str(chosen)}))
"""

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path(PYTHON).is_file(),
    reason="needs root (to own the volume and drop to uid 10001) and /usr/bin/python3",
)


def _as_worker() -> None:
    os.setgroups([])
    os.setgid(WORKER_UID)
    os.setuid(WORKER_UID)


@pytest.fixture
def world() -> Iterator[Path]:
    """A folder that uid 10001 can enter (pytest's tmp_path is root's, mode 0700)."""
    root = Path(tempfile.mkdtemp(prefix="kriptik-volume-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root)


def _run(worker: Path, model_dir: Path, local: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(worker), "KRIPTIK_LOCAL_CACHE": str(local)}
    return subprocess.run(
        [PYTHON, "-c", PROBE, str(model_dir)],
        env=env, cwd=worker, preexec_fn=_as_worker, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def _setup(world: Path, plan: WorkerPlan) -> tuple[Path, Path, Path]:
    worker = world / "worker"
    render_worker(plan, secret=False).write(worker)
    for path in (worker, *worker.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    volume = world / "runpod-volume"  # as RunPod mounts it: owned by root, mode 0755
    volume.mkdir(mode=0o755)
    local = world / "container-disk"
    local.mkdir()
    os.chown(local, WORKER_UID, WORKER_UID)
    return worker, volume, local


def test_a_root_owned_volume_falls_back_to_local_disk_with_one_clear_line(
    world: Path, plan_for: Callable[..., WorkerPlan]
) -> None:
    worker, volume, local = _setup(world, plan_for("diffusers", weights="network_volume"))
    model_dir = volume / "kriptik" / "models" / "tiny-0123456789ab"
    run = _run(worker, model_dir, local)
    assert run.returncode == 0, run.stderr  # never a crash
    chosen = Path(json.loads(run.stdout)["chosen"])
    assert chosen == local / model_dir.name and (chosen / "weights.bin").read_bytes() == b"w"
    assert chosen.stat().st_uid == WORKER_UID and not (volume / "kriptik").exists()
    [line] = run.stderr.splitlines()
    assert f"cannot write the weights cache {model_dir} as uid {WORKER_UID}" in line
    assert "Permission denied" in line and str(chosen) in line
    assert "chown -R 10001:10001 /workspace/kriptik" in line  # what to do about it


def test_a_volume_the_worker_owns_is_used_silently(
    world: Path, plan_for: Callable[..., WorkerPlan]
) -> None:
    worker, volume, local = _setup(world, plan_for("transformers", weights="network_volume"))
    os.chown(volume, WORKER_UID, WORKER_UID)
    model_dir = volume / "kriptik" / "models" / "tiny-0123456789ab"
    run = _run(worker, model_dir, local)
    assert run.returncode == 0, run.stderr
    assert Path(json.loads(run.stdout)["chosen"]) == model_dir
    assert (model_dir / "weights.bin").stat().st_uid == WORKER_UID
    assert run.stderr == "" and list(local.iterdir()) == []


def test_a_complete_copy_on_a_read_only_volume_is_read_in_place(
    world: Path, plan_for: Callable[..., WorkerPlan]
) -> None:
    plan = plan_for("diffusers", weights="network_volume")
    worker, volume, local = _setup(world, plan)
    model_dir = volume / "kriptik" / "models" / "tiny-0123456789ab"
    model_dir.mkdir(parents=True)
    (model_dir / ".kriptik-complete").write_text(plan.revision, encoding="utf-8")
    probe = PROBE.replace('(chosen / "weights.bin").write_bytes(b"w")\n', "")
    run = subprocess.run(
        [PYTHON, "-c", probe, str(model_dir)],
        env={"PYTHONPATH": str(worker), "KRIPTIK_LOCAL_CACHE": str(local)},
        preexec_fn=_as_worker, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert Path(json.loads(run.stdout)["chosen"]) == model_dir and run.stderr == ""
