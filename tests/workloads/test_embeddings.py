"""Embeddings: one pooled vector per input, pooled as the repo's own sentence-transformers
configuration says (mean pooling where it has none), in the OpenAI embeddings shape; run
through the generated worker on the pinned libraries, and checked against the pooling
computed here from the model's token vectors with plain transformers."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.env import worker_plan
from tests.workloads.harness import require_python, run_worker, runsync, serve_worker
from tests.workloads.models import build_model

HIDDEN = 24
TEXTS = ["the cat sat on the mat", "hello world", "the cat sat on the mat"]

# The token vectors of each text alone (no padding), from plain transformers.
_TOKENS = r"""
import json, sys
import torch
from transformers import AutoModel, AutoTokenizer

tok = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModel.from_pretrained(sys.argv[1]).eval()
out = []
with torch.no_grad():
    for text in json.loads(sys.argv[2]):
        out.append(model(**tok(text, return_tensors="pt")).last_hidden_state[0].tolist())
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT with no sentence-transformers files; copy it before adding any."""
    model = tmp_path_factory.mktemp("bert") / "model"
    assert build_model("bert", model, hidden=HIDDEN)["hidden_size"] == HIDDEN
    return model


@pytest.fixture(scope="module")
def embedding_worker(bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One feature-extraction worker served for every bad-input job of this module."""
    plan = worker_plan("sentence-transformers", "feature-extraction")
    with serve_worker(plan, bert, tmp_path_factory.mktemp("embedding-worker")) as base_url:
        yield base_url


def _modules(model: Path, pooling: str, *, normalize: bool) -> None:
    """The sentence-transformers files of a repo that pools with `pooling`."""
    modules: list[dict[str, Any]] = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]  # fmt: skip
    if normalize:
        modules.append(
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
        )  # fmt: skip
        (model / "2_Normalize").mkdir()
    (model / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (model / "1_Pooling").mkdir()
    modes = {f"pooling_mode_{m}": m == pooling for m in ("cls_token", "mean_tokens", "max_tokens")}
    config = {"word_embedding_dimension": HIDDEN, **modes}
    (model / "1_Pooling" / "config.json").write_text(json.dumps(config), encoding="utf-8")


def _expected(model: Path, pooling: str, normalize: bool) -> list[list[float]]:
    done = subprocess.run(
        [str(require_python()), "-c", _TOKENS, str(model), json.dumps(TEXTS)],
        capture_output=True, text=True, timeout=300, check=True,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    vectors = []
    for tokens in json.loads(done.stdout):
        if pooling == "cls_token":
            vector = tokens[0]
        else:
            vector = [sum(column) / len(tokens) for column in zip(*tokens, strict=True)]
        if normalize:
            norm = math.sqrt(sum(x * x for x in vector))
            vector = [x / norm for x in vector]
        vectors.append(vector)
    return vectors


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.mark.parametrize(
    ("task", "pooling", "normalize"),
    [
        ("feature-extraction", None, False),  # no sentence-transformers files: mean pooling
        ("sentence-similarity", "mean_tokens", True),
        ("sentence-similarity", "cls_token", False),
    ],
)
def test_one_pooled_vector_per_input_as_the_repo_configures(
    bert: Path, tmp_path: Path, task: str, pooling: str | None, normalize: bool
) -> None:
    model = shutil.copytree(bert, tmp_path / "model")
    if pooling is not None:
        _modules(model, pooling, normalize=normalize)
    plan = worker_plan("sentence-transformers", task)
    result = run_worker(plan, model, {"inputs": TEXTS}, tmp_path)
    assert result.error is None, result.log
    body = result.output
    assert body["object"] == "list"
    assert body["model"] == plan.repo_id
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert {d["object"] for d in body["data"]} == {"embedding"}
    vectors = [d["embedding"] for d in body["data"]]
    assert all(len(v) == HIDDEN and all(isinstance(x, float) for x in v) for v in vectors)
    assert _cosine(vectors[0], vectors[2]) == pytest.approx(1.0, abs=1e-6)
    assert vectors[0] != pytest.approx(vectors[1], abs=1e-4)
    # Pooled as configured, padding left out (the batch pads "hello world").
    for got, want in zip(
        vectors, _expected(model, pooling or "mean_tokens", normalize), strict=True
    ):
        assert got == pytest.approx(want, abs=1e-4)
    norms = [math.sqrt(sum(x * x for x in v)) for v in vectors]
    assert (norms == pytest.approx([1.0] * 3, abs=1e-5)) is normalize
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] == 8 + 4 + 8


def test_one_text_gives_one_vector(bert: Path, tmp_path: Path) -> None:
    plan = worker_plan("sentence-transformers", "feature-extraction")
    result = run_worker(plan, bert, {"inputs": "hello world"}, tmp_path)
    assert result.error is None, result.log
    [item] = result.output["data"]
    assert len(item["embedding"]) == HIDDEN


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"inputs": ["the cat", 3]}, "invalid input: inputs[1] must be a string"),
        ({"inputs": []}, "invalid input: inputs must be a string or a non-empty list of strings"),
        ({"inputs": ["a"] * 257}, "invalid input: inputs holds more than 256 texts"),
        ({"input": "the cat"}, "invalid input: unknown field(s) input; accepted: inputs"),
    ],
)
def test_bad_embedding_input_is_a_clear_job_error(
    embedding_worker: str, job: dict[str, object], message: str
) -> None:
    result = runsync(embedding_worker, job)
    assert (result.output, result.error) == (None, message), result.log
