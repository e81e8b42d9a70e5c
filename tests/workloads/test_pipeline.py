"""The generic transformers pipeline (text-classification, a task the planner gives a
transformers worker): a tiny random-weight BERT classifier labels text through the
generated worker on the pinned libraries; bad input comes back as a clear job error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workloads.env import worker_plan
from tests.workloads.harness import run_worker
from tests.workloads.models import build_model


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("classifier") / "model"
    build_model("bert-classifier", model)
    return model


def test_text_classification_returns_a_label_and_score(classifier: Path, tmp_path: Path) -> None:
    plan = worker_plan("transformers", "text-classification")
    assert (plan.kind, plan.task) == ("transformers", "text-classification")
    result = run_worker(plan, classifier, {"inputs": "the cat sat on the mat"}, tmp_path)
    assert result.error is None, result.log
    [best] = result.output["output"]
    assert best["label"] in {"NEGATIVE", "POSITIVE"}
    assert 0.5 <= best["score"] <= 1.0


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"inputs": 3}, "invalid input: inputs must be a string"),
        ({"parameters": {}}, "invalid input: inputs is required"),
        ({"inputs": "the cat " * 12_501}, "invalid input: inputs is longer than 100000 characters"),
        ("the cat", "invalid input: input must be a JSON object"),
        (
            {"inputs": "the cat", "parameters": []},
            "invalid input: parameters must be a JSON object",
        ),
    ],
)
def test_bad_input_is_a_clear_job_error(
    classifier: Path, tmp_path: Path, job: object, message: str
) -> None:
    result = run_worker(
        worker_plan("transformers", "text-classification"), classifier, job, tmp_path
    )
    assert (result.output, result.error) == (None, message), result.log


def test_a_failing_model_call_names_no_path(classifier: Path, tmp_path: Path) -> None:
    """An error inside the library (here a parameter it rejects) is reported as its type and
    message, without the traceback (`test_handler.py` checks that paths are taken out)."""
    job = {"inputs": "the cat", "parameters": {"function_to_apply": "nope"}}
    result = run_worker(
        worker_plan("transformers", "text-classification"), classifier, job, tmp_path
    )
    assert (result.output, result.error) == (None, "KeyError: 'NOPE'"), result.log
    assert "Traceback" in result.log  # the details are in the worker's log instead
