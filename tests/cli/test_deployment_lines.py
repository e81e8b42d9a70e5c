"""`kriptik deployments list/status` lines: a deployment on Hugging Face or Cloud Run names
its target and its offer's label (from the stored plan), never the offer's raw id; RunPod's
lines are unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ui.cli.deploy import _deployment_line, _target_gpu  # pyright: ignore[reportPrivateUsage]
from vault.deployments import DeploymentView

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
L4_LABEL = "NVIDIA L4 24 GB (Google Cloud Run, europe-west4)"


def _view(pool: str, plan: dict[str, Any], endpoint: str) -> DeploymentView:
    return DeploymentView(
        id="d-1", user_id="u", thread_id="t", repo_id="org/m", revision="main", kind="vllm",
        state="ready", stage=None, message=None, name="kt-d-1", image=None, image_digest=None,
        registry_auth_id=None, template_id=None, endpoint_id=endpoint, gpu_pools=[pool],
        gpu_count=1, workers_min=0, workers_max=1, idle_timeout_s=300,
        usd_per_second=0.0002, cost_usd=0.25, urls={}, plan=plan, created_at=NOW,
        updated_at=NOW, ready_at=NOW, ended_at=None,
    )  # fmt: skip


def test_a_cloud_run_deployment_shows_its_target_and_offer_label() -> None:
    offer = {"target": "cloudrun", "offer_id": "nvidia-l4", "label": L4_LABEL}
    view = _view("nvidia-l4", {"target": "cloudrun", "target_gpu": offer}, "kt-d-1-svc")
    assert _target_gpu(view) == f"Google Cloud Run, {L4_LABEL}"
    line = _deployment_line(view)
    assert f"Google Cloud Run, {L4_LABEL}" in line and " nvidia-l4 " not in line


def test_a_hugging_face_deployment_shows_its_target_and_offer_label() -> None:
    label = "nvidia-l4 24 GB x1 (Hugging Face, aws us-east-1)"
    offer = {"target": "huggingface", "offer_id": "aws/us-east-1/nvidia-l4/x1", "label": label}
    view = _view(offer["offer_id"], {"target": "huggingface", "target_gpu": offer}, "kt-d-1")
    line = _deployment_line(view)
    assert f"Hugging Face Inference Endpoints, {label}" in line
    assert "aws/us-east-1/nvidia-l4/x1" not in line


def test_a_runpod_deployment_line_is_unchanged() -> None:
    view = _view("ADA_24", {}, "ep-1")
    assert _target_gpu(view) is None
    assert _deployment_line(view).split()[:5] == ["d-1", "ready", "org/m", "ep-1", "ADA_24"]
