"""The generated handler: typed input validation, and errors returned as results instead of
crashes, in-process on a stub pipeline and through runpod's own `--test_input` mode."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings

from tests.artifacts.conftest import write_stub_worker
from tests.artifacts.test_values import nasty
from tools.artifacts.worker import WorkerPlan


@pytest.fixture
def image_handler(
    plan_for: Callable[..., WorkerPlan], load_handler: Callable[[WorkerPlan], ModuleType]
) -> ModuleType:
    return load_handler(plan_for("diffusers"))


@pytest.fixture
def text_handler(
    plan_for: Callable[..., WorkerPlan], load_handler: Callable[[WorkerPlan], ModuleType]
) -> ModuleType:
    return load_handler(plan_for("transformers"))


def test_defaults_fill_in_and_types_are_checked(image_handler: ModuleType) -> None:
    params = image_handler.validate({"prompt": "a cat", "width": 512})
    assert params == {
        "prompt": "a cat",
        "negative_prompt": "",
        "num_inference_steps": 30,
        "guidance_scale": 7.0,
        "width": 512,
        "height": 1024,
        "seed": None,
    }


@pytest.mark.parametrize(
    ("job_input", "message"),
    [
        ("a cat", "input must be a JSON object"),
        ({}, "prompt is required"),
        ({"prompt": "  "}, "prompt must not be empty"),
        ({"prompt": 3}, "prompt must be a string"),
        ({"prompt": "x", "steps": 3}, "unknown field(s) steps"),
        ({"prompt": "x", "width": 513}, "width must be a multiple of 8"),
        ({"prompt": "x", "width": 4096}, "width must be between 64 and 2048"),
        ({"prompt": "x", "num_inference_steps": 2.5}, "must be a whole number"),
        ({"prompt": "x", "seed": True}, "seed must be a number"),
        ({"prompt": "x" * 4001}, "longer than 4000"),
    ],
)
def test_bad_input_is_an_error_result_not_a_crash(
    image_handler: ModuleType, job_input: object, message: str
) -> None:
    result = image_handler.handler({"id": "j1", "input": job_input})
    assert set(result) == {"error"}
    assert result["error"].startswith("invalid input: ")
    assert message in result["error"]


def test_a_failing_pipeline_is_an_error_result(text_handler: ModuleType) -> None:
    result = text_handler.handler({"id": "j1", "input": {"inputs": "raise"}})
    assert result == {"error": "RuntimeError: the stub pipeline was told to fail"}


def test_an_unexpected_error_names_no_path(
    text_handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fail(loaded: object, params: object) -> None:
        raise OSError(f"{tmp_path}/model/config.json is unreadable (see /usr/lib/x.py)")

    monkeypatch.setattr(text_handler.pipeline, "run", fail)
    result = text_handler.handler({"id": "j1", "input": {"inputs": "x"}})
    assert result == {"error": "OSError: <path> is unreadable (see <path>)"}


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=nasty.filter(lambda t: t.strip() and len(t) <= 100_000))
def test_any_text_reaches_the_pipeline_unchanged(text_handler: ModuleType, text: str) -> None:
    result = text_handler.handler({"id": "j", "input": {"inputs": text, "parameters": {}}})
    assert result["echo"] == {"inputs": text, "parameters": {}}


def _run(directory: Path, job: object, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "MODEL_DIR": str(tmp_path),
        "KRIPTIK_READY_FILE": str(tmp_path / "ready"),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RUNPOD_DEBUG_LEVEL": "INFO",
        "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
        "RUNPOD_SKIP_GPU_CHECK": "true",
    }
    return subprocess.run(
        [sys.executable, "-u", "handler.py", "--test_input", json.dumps(job)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_runpod_test_input_mode_runs_the_job(
    plan_for: Callable[..., WorkerPlan], tmp_path: Path
) -> None:
    directory = write_stub_worker(plan_for("transformers"), tmp_path / "worker")
    (tmp_path / "model.safetensors").write_bytes(b"0")
    ok = _run(directory, {"input": {"inputs": "hi `id` $(id) é"}}, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "kriptik-worker ready repo=kriptik-test/tiny" in ok.stdout
    assert "'echo': {'inputs': 'hi `id` $(id) é', 'parameters': {}}" in ok.stdout
    assert (tmp_path / "ready").is_file()
    # The failing case (exit 1) runs in the worker image: tests/artifacts/test_worker_image.py.
