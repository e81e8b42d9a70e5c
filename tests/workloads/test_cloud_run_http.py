"""The generated worker on Cloud Run: started as Cloud Run starts a container (no flags,
K_SERVICE and PORT in the environment), the same handler.py serves HTTP through the runpod
SDK's own local API, so `POST /runsync {"input": ...}` runs a job on the real libraries."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.workloads.env import worker_plan
from tests.workloads.harness import runsync, serve_worker
from tests.workloads.models import build_model


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("bert") / "model"
    build_model("bert", model, hidden=24)
    return model


def test_cloud_run_start_serves_runsync_on_port(bert: Path, tmp_path: Path) -> None:
    plan = worker_plan("sentence-transformers", "feature-extraction")
    with serve_worker(plan, bert, tmp_path, cloud_run=True) as base_url:
        done = runsync(base_url, {"inputs": "hello world"})
        bad = runsync(base_url, {"nope": 1})
    assert done.error is None, done.log
    vector = done.output["data"][0]["embedding"]
    assert len(vector) == 24 and all(math.isfinite(v) for v in vector)
    assert bad.error is not None and bad.error.startswith("invalid input: unknown field(s) nope")
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert f"0.0.0.0:{base_url.rsplit(':', 1)[1]}" in log  # every interface, as Cloud Run needs
