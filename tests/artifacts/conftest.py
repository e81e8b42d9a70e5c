"""Fixtures for the worker-artifact tests: model requirements of each kind, plans, and a
generated worker loaded in-process on a stub pipeline."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tools.artifacts.worker import WorkerPlan, plan_worker, render_worker
from tools.sizing import Architecture, ModelRequirements

SHA = "0123456789abcdef0123456789abcdef01234567"
# A pipeline module that needs no torch: it lists the baked weights and echoes the input.
STUB_PIPELINE = """
from pathlib import Path

def load(model_dir, config):
    files = sorted(p.name for p in Path(model_dir).iterdir()) if Path(model_dir).is_dir() else []
    return {"files": files, "config": config}

def run(loaded, params):
    if params.get("inputs") == "raise":
        raise RuntimeError("the stub pipeline was told to fail")
    return {"echo": params, "files": loaded["files"]}
"""


def _llama() -> Architecture:
    return Architecture(
        model_type="llama",
        architectures=("LlamaForCausalLM",),
        generative=True,
        num_layers=2,
        hidden_size=256,
        intermediate_size=688,
        num_attention_heads=8,
        num_kv_heads=4,
        head_dim=32,
        v_head_dim=32,
        vocab_size=1024,
        max_context=4096,
        layer_kinds=("full", "full"),
        tie_word_embeddings=False,
        fused_gate_up=False,
    )


def requirements(kind: str, **overrides: Any) -> ModelRequirements:
    """Requirements that plan to `kind` (vllm, diffusers, transformers, custom)."""
    base: dict[str, Any] = {
        "repo_id": "kriptik-test/tiny",
        "sha": SHA,
        "weights_bytes": 3_000_000,
        "weight_format": "safetensors",
    }
    base |= {
        "vllm": {
            "library": "transformers",
            "pipeline_tag": "text-generation",
            "architecture": _llama(),
        },
        "diffusers": {
            "library": "diffusers",
            "pipeline_tag": "text-to-image",
            "repo_id": "kriptik-test/tiny-diffusion",
        },
        "transformers": {"library": "transformers", "pipeline_tag": "text-classification"},
        "custom": {
            "library": "transformers",
            "pipeline_tag": "text-generation",
            "trust_remote_code": True,
        },
    }[kind]
    return ModelRequirements(**(base | overrides))


@pytest.fixture(scope="session")
def plan_for() -> Callable[..., WorkerPlan]:
    def make(kind: str, **plan_options: Any) -> WorkerPlan:
        return plan_worker(requirements(kind), **plan_options)

    return make


def write_stub_worker(plan: WorkerPlan, directory: Path) -> Path:
    """The generated worker with the stub pipeline and only the packages it imports."""
    render_worker(plan, secret=False).write(directory)
    (directory / "pipeline.py").write_text(STUB_PIPELINE, encoding="utf-8")
    return directory


@pytest.fixture
def load_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[WorkerPlan], ModuleType]]:
    """Import a generated handler.py in-process (on the stub pipeline)."""
    loaded: list[str] = []

    def load(plan: WorkerPlan) -> ModuleType:
        directory = write_stub_worker(plan, tmp_path / f"worker{len(loaded)}")
        monkeypatch.setenv("MODEL_DIR", str(tmp_path))
        monkeypatch.setenv("KRIPTIK_READY_FILE", str(tmp_path / "ready"))
        monkeypatch.syspath_prepend(str(directory))
        for name in ("pipeline", "fetch_weights"):
            sys.modules.pop(name, None)
        name = f"kriptik_test_handler_{len(loaded)}"
        spec = importlib.util.spec_from_file_location(name, directory / "handler.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(name)
        return module

    yield load
    for name in ("pipeline", "fetch_weights", *loaded):
        sys.modules.pop(name, None)
