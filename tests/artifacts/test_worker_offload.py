"""A diffusers worker planned with model CPU offload (sizing found no GPU that holds every
component at once) enables it when it loads; no other worker offloads."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable

import pytest

from tools.artifacts.worker import UnsafeValue, WorkerPlan, render_worker


def _config(plan: WorkerPlan) -> dict[str, object]:
    handler = render_worker(plan, secret=False).files["handler.py"]
    found = re.search(r"CONFIG: dict\[str, Any\] = json\.loads\((.+)\)\n", handler)
    assert found is not None
    return json.loads(ast.literal_eval(found.group(1)))  # a Python string literal of JSON


def test_the_plans_offload_reaches_the_worker(plan_for: Callable[..., WorkerPlan]) -> None:
    offloaded = plan_for("diffusers", cpu_offload=True)
    assert _config(offloaded)["cpu_offload"] is True
    pipeline = render_worker(offloaded, secret=False).files["pipeline.py"]
    assert "pipe.enable_model_cpu_offload()" in pipeline
    assert _config(plan_for("diffusers"))["cpu_offload"] is False


def test_only_a_diffusers_worker_offloads(plan_for: Callable[..., WorkerPlan]) -> None:
    with pytest.raises(UnsafeValue, match="only a diffusers worker"):
        plan_for("transformers", cpu_offload=True)
