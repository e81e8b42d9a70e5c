"""Text generation on the transformers path: a tiny random-weight Llama generates tokens
through the generated worker, on the pinned transformers and torch."""

from __future__ import annotations

from pathlib import Path

from tests.workloads.env import worker_plan
from tests.workloads.harness import run_worker
from tests.workloads.models import WORDS, build_model


def test_generated_worker_returns_generated_text(tmp_path: Path) -> None:
    plan = worker_plan("transformers", "text-generation")
    assert plan.kind == "transformers"
    build_model("causal-lm", tmp_path / "model")
    job = {"inputs": "the cat sat", "parameters": {"max_new_tokens": 4, "do_sample": False}}
    result = run_worker(plan, tmp_path / "model", job, tmp_path)
    assert result.error is None, result.log
    assert result.returncode == 0
    [generation] = result.output["output"]
    text = generation["generated_text"]
    assert isinstance(text, str)
    assert text.startswith("the cat sat")
    new_words = text.removeprefix("the cat sat").split()
    assert len(new_words) == 4, text
    assert set(new_words) <= {*WORDS, "[UNK]", "[PAD]", "[EOS]"}
