"""The generic transformers pipeline (text-classification, a task the planner gives a
transformers worker): a tiny random-weight BERT classifier labels text through the
generated worker on the pinned libraries; bad input comes back as a clear job error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workloads.env import worker_plan
from tests.workloads.harness import run_worker, runsync, serve_worker
from tests.workloads.models import build_model


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("classifier") / "model"
    build_model("bert-classifier", model)
    return model


@pytest.fixture(scope="module")
def classifier_worker(classifier: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One text-classification worker served for every job with bad input of this module."""
    plan = worker_plan("transformers", "text-classification")
    with serve_worker(plan, classifier, tmp_path_factory.mktemp("classifier-worker")) as base_url:
        yield base_url


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
        (
            {"inputs": "the cat", "parameters": []},
            "invalid input: parameters must be a JSON object",
        ),
    ],
)
def test_bad_input_is_a_clear_job_error(
    classifier_worker: str, job: dict[str, object], message: str
) -> None:
    result = runsync(classifier_worker, job)
    assert (result.output, result.error) == (None, message), result.log


def test_input_that_is_not_an_object_is_a_clear_job_error(classifier: Path, tmp_path: Path) -> None:
    # The SDK's local API takes only a JSON object as input, so this one job goes through
    # its `--test_input` mode, as a RunPod queue would hand it over.
    result = run_worker(
        worker_plan("transformers", "text-classification"), classifier, "the cat", tmp_path
    )
    message = "invalid input: input must be a JSON object"
    assert (result.output, result.error) == (None, message), result.log


def test_a_failing_model_call_names_no_path(classifier_worker: str) -> None:
    """An error inside the library (here a parameter it rejects) is reported as its type and
    message, without the traceback (`test_handler.py` checks that paths are taken out)."""
    job = {"inputs": "the cat", "parameters": {"function_to_apply": "nope"}}
    result = runsync(classifier_worker, job)
    assert (result.output, result.error) == (None, "KeyError: 'NOPE'"), result.log
    assert "Traceback" in result.log  # the details are in the worker's log instead
