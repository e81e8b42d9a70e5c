"""The generated worker's files: the Dockerfile rules of the issue (checked by the rule set
in `dockerfile_rules.py`), valid Python, pinned requirements, and a stable content hash."""

from __future__ import annotations

import ast
import json
import shlex
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import UndefinedError

from tests.artifacts.dockerfile_rules import lint, parse
from tests.artifacts.test_values import nasty
from tools.artifacts.worker import WorkerPlan, build_commands, render_worker
from tools.artifacts.worker.render import _environment

KINDS = ["diffusers", "transformers", "custom"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("secret", [True, False])
def test_dockerfile_passes_the_rule_set(
    plan_for: Callable[..., WorkerPlan], kind: str, secret: bool
) -> None:
    files = render_worker(plan_for(kind), secret=secret).files
    assert [str(f) for f in lint(files["Dockerfile"])] == []


@pytest.mark.parametrize("kind", KINDS)
def test_dockerfile_follows_the_issue(plan_for: Callable[..., WorkerPlan], kind: str) -> None:
    text = render_worker(plan_for(kind), secret=True).files["Dockerfile"]
    ins = parse(text)
    words = [(i.keyword, i.args) for i in ins]
    assert words[0] == ("ARG", "BASE_IMAGE=pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime")
    assert words[1] == ("FROM", "--platform=linux/amd64 ${BASE_IMAGE}")
    order = [i.args for i in ins if i.keyword in {"COPY", "RUN"}]
    deps = next(n for n, a in enumerate(order) if "requirements.txt" in a and a.startswith("req"))
    weights = next(n for n, a in enumerate(order) if "--mount=type=secret,id=hf_token" in a)
    code = next(n for n, a in enumerate(order) if "handler.py" in a)
    assert deps < weights < code  # dependencies, then weights, then code: for layer caching
    assert [i.args for i in ins if i.keyword == "USER"] == ["10001:10001"]
    assert any(i.keyword == "HEALTHCHECK" for i in ins)
    assert "--build-arg" not in text.split("#", 1)[0] and "ARG HF_TOKEN" not in text


def test_without_a_secret_the_dockerfile_needs_no_buildkit(
    plan_for: Callable[..., WorkerPlan],
) -> None:
    text = render_worker(plan_for("diffusers"), secret=False).files["Dockerfile"]
    assert "--mount" not in text
    assert "RUN python3 /opt/worker/fetch_weights.py" in text


def test_network_volume_weights_are_not_baked(plan_for: Callable[..., WorkerPlan]) -> None:
    files = render_worker(plan_for("diffusers", weights="network_volume"), secret=True).files
    assert "fetch_weights.py \\" not in files["Dockerfile"]
    assert (
        "MODEL_DIR=/runpod-volume/kriptik/models/kriptik-test-tiny-diffusion-"
        in files["Dockerfile"]
    )
    assert lint(files["Dockerfile"]) == []
    assert json.loads(files["test_input.json"])["input"]["prompt"]


@pytest.mark.parametrize("kind", KINDS)
def test_python_files_parse_and_requirements_are_pinned(
    plan_for: Callable[..., WorkerPlan], kind: str
) -> None:
    files = render_worker(plan_for(kind), secret=False).files
    for name in ("handler.py", "pipeline.py", "fetch_weights.py"):
        compile(files[name], name, "exec")
    lines = [x for x in files["requirements.txt"].splitlines() if x and not x.startswith("#")]
    assert lines and all("==" in x for x in lines)
    assert "runpod==1.12.0" in lines
    job = json.loads(files["test_input.json"])
    assert set(job) == {"input"}


@pytest.mark.parametrize(
    ("task", "extra"),
    [
        ("automatic-speech-recognition", "imageio-ffmpeg=="),  # its static ffmpeg decodes audio
        ("feature-extraction", "sentence-transformers=="),  # the repo's own pooling
        ("sentence-similarity", "sentence-transformers=="),
        ("text-classification", None),
    ],
)
def test_a_task_adds_only_the_packages_it_needs(
    plan_for: Callable[..., WorkerPlan], task: str, extra: str | None
) -> None:
    plan = plan_for("transformers").model_copy(update={"task": task})
    text = render_worker(plan, secret=False).files["requirements.txt"]
    added = [x for x in text.splitlines() if x.startswith(("imageio-ffmpeg", "sentence-"))]
    assert added == ([] if extra is None else [next(x for x in added if x.startswith(extra))])


def test_the_content_hash_follows_the_files(plan_for: Callable[..., WorkerPlan]) -> None:
    plan = plan_for("diffusers")
    one, two = render_worker(plan, secret=True), render_worker(plan, secret=True)
    assert one.content_hash == two.content_hash
    assert render_worker(plan, secret=False).content_hash != one.content_hash
    assert render_worker(plan, secret=True, sample_prompt="x").content_hash != one.content_hash


@settings(max_examples=60, deadline=None)
@given(prompt=nasty)
def test_free_text_reaches_only_the_json_file(
    plan_for: Callable[..., WorkerPlan], prompt: str
) -> None:
    plan = plan_for("transformers")
    plain = render_worker(plan, secret=True).files
    files = render_worker(plan, secret=True, sample_prompt=prompt).files
    assert json.loads(files["test_input.json"])["input"]["inputs"] == prompt
    for name in ("Dockerfile", "handler.py", "pipeline.py", "fetch_weights.py"):
        assert files[name] == plain[name]
    handler = ast.parse(files["handler.py"])
    assert isinstance(handler, ast.Module)


def test_templates_refuse_a_missing_variable() -> None:
    with pytest.raises(UndefinedError):
        _environment().get_template("requirements.txt.j2").render(plan=None)


@given(st.text(min_size=1).filter(lambda t: "\x00" not in t))
def test_manual_build_commands_quote_every_value(context: str) -> None:
    lines = build_commands(context, "ghcr.io/me/x:1", secret=True, hf_endpoint="http://h")
    build = shlex.split(lines[1])
    assert build[0] == "DOCKER_BUILDKIT=1" and build[-1] == context
    assert "--secret" in build and "id=hf_token,env=HF_TOKEN" in build
