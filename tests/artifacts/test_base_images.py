"""The base-image table: every image a deployment names comes from it, each entry says where
its tag was (or must be) checked, and endpoints ask for the CUDA their image needs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from tests.artifacts.conftest import requirements
from tests.artifacts.dockerfile_rules import _from_image, parse  # pyright: ignore[reportPrivateUsage]
from tests.workloads.comfy_plan import comfy_plan
from tools.artifacts.worker import UnsafeValue, WeightSource, WorkerKind, plan_worker, render_worker
from tools.artifacts.worker.base_images import BASE_IMAGES, base_image, find_image
from tools.artifacts.worker.values import check_image_ref

REPO = Path(__file__).resolve().parents[2]


def _images_of(dockerfile: str) -> list[str]:
    """Every image the Dockerfile's FROM lines name, with ARG defaults filled in."""
    defaults: dict[str, str] = {}
    images: list[str] = []
    for ins in parse(dockerfile):
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            defaults[name.strip()] = default.strip()
        if ins.keyword == "FROM":
            images.append(_from_image(ins.args, defaults)[0])
    return images


@pytest.mark.parametrize("weights", get_args(WeightSource))
@pytest.mark.parametrize("kind", get_args(WorkerKind))
def test_every_worker_the_planner_makes_names_only_listed_images(kind: str, weights: str) -> None:
    if kind == "comfyui":  # planned from a workflow, not from a model's requirements
        plan = comfy_plan(weights=weights)  # pyright: ignore[reportArgumentType]
    else:
        plan = plan_worker(requirements(kind), weights=weights)  # pyright: ignore[reportArgumentType]
    assert plan.kind == kind
    if plan.needs_build:
        for secret in (True, False):
            images = _images_of(render_worker(plan, secret=secret).files["Dockerfile"])
            assert images and all(find_image(i) for i in images), images
        assert plan.image is None
    else:  # the vLLM template's image (tools/pipeline/steps.ensure_template uses plan.image)
        assert plan.image is not None and find_image(plan.image) == base_image("vllm")
    assert plan.min_cuda == find_image(plan.image or plan.base_image).min_cuda  # type: ignore[union-attr]


def test_an_image_that_is_not_in_the_table_is_refused() -> None:
    with pytest.raises(UnsafeValue, match=r"base_images\.py"):
        plan_worker(requirements("diffusers"), base_image="ghcr.io/acme/base:1")
    with pytest.raises(UnsafeValue, match=r"base_images\.py"):
        plan_worker(requirements("vllm"), vllm_image="runpod/worker-v1-vllm:v9.9.9")
    # Listed images, the test base included, are accepted.
    test_base = base_image("test").ref
    assert plan_worker(requirements("custom"), base_image=test_base).base_image == test_base


def test_each_entry_says_where_it_was_checked() -> None:
    assert {e.key for e in BASE_IMAGES} == {"vllm", "cuda-torch", "comfyui", "test"}
    assert len({e.ref for e in BASE_IMAGES}) == len(BASE_IMAGES)
    for entry in BASE_IMAGES:
        assert check_image_ref(entry.ref) == entry.ref
        assert entry.source and entry.cuda_source and entry.purpose
        assert not entry.tag.endswith("latest")
        # Checked means a day and a page; unchecked says so, and what to do before release.
        assert entry.checked is (entry.checked_on is not None)
        if not entry.checked:
            assert "before release" in entry.note
            assert all(s.startswith("https://") for s in entry.source)
    # The GPU images need a host CUDA; the CPU-only test base needs none.
    assert base_image("vllm").min_cuda and base_image("cuda-torch").min_cuda
    assert base_image("comfyui").min_cuda
    assert base_image("test").min_cuda is None


def test_a_digest_must_be_the_tables_own() -> None:
    ref = base_image("vllm").ref
    assert find_image(ref) is not None
    assert find_image(ref + "@sha256:" + "0" * 64) is None  # a digest nobody recorded
    assert find_image(ref.replace(":", ":x", 1)) is None


# Image references as code spells them: `runpod/worker...:tag`, `pytorch/pytorch:tag`, ...
_IMAGE_LITERAL = re.compile(
    r"""["'](?:runpod/worker[\w.-]*|pytorch/pytorch|nvidia/cuda|vllm/vllm-openai)[:@]"""
)


def test_no_other_module_or_template_spells_an_image() -> None:
    table = REPO / "tools/artifacts/worker/base_images.py"
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for pattern in ("*.py", "*.j2")
        for path in (REPO / "tools").rglob(pattern)
        if path != table
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _IMAGE_LITERAL.search(line)
    ]
    assert found == []
