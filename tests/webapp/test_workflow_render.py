"""The ComfyUI workflow page, rendered: one field per exposed input with its name, limits
and default; labels from the user's workflow inert in every language they reach; the
field rules; and the page `spec_from_deployment` picks for a stored ComfyUI deployment."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.webapp.comfy_fakes import WORKFLOW_MODEL_ID, sdxl_inputs, workflow_spec
from tests.webapp.conftest import spec_for
from tools.artifacts.client import EndpointInfo, InputField
from tools.artifacts.webapp import AppSpec, render_app
from tools.artifacts.worker.plan import WorkerPlan
from tools.comfy import ComfyWorker, UserInput
from tools.comfy.inputs import find_inputs
from tools.comfy.parse import parse_workflow
from tools.publish import scan_files
from tools.publish.check import smoke_input
from tools.publish.from_deployment import AppUnavailable, spec_from_deployment
from vault.deployments import DeploymentView

HOSTILE = [
    "</script><img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "{{ 7*7 }} ${alert(1)} `x`",
    "</textarea><script>alert(1)</script>",
    "'''\"\"\" \\ */ <!--",
]


class _Page(HTMLParser):
    """Every element by id (its tag, attributes and text), the field labels, every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, dict[str, Any]] = {}  # <label class="label" for=...> by target
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        node = {"tag": tag, "attrs": found, "text": ""}
        if found.get("id"):
            self.by_id[str(found["id"])] = node
        if tag == "label" and found.get("class") == "label" and found.get("for"):
            self.labels[str(found["for"])] = node
        if tag not in {"input", "img", "meta", "link", "br"}:
            self._open.append(node)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1]["tag"] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for node in self._open:
            # A browser drops the newline right after <textarea>; this parser keeps it.
            text = (
                data.removeprefix("\n") if node["tag"] == "textarea" and not node["text"] else data
            )
            node["text"] += text


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _config(html: str) -> dict[str, Any]:
    raw = html.split('id="app-config">')[1].split("</script>")[0]
    assert "<" not in raw  # tojson escapes every "<": nothing can close the script early.
    return json.loads(raw)


def test_one_field_per_input_with_its_name_limits_and_default() -> None:
    spec = workflow_spec()
    app = render_app(spec)
    assert render_app(spec).files == app.files  # Deterministic: a re-push finds the same tree.
    html = app.files["public/index.html"].decode()
    page = _parse(html)
    prompt = page.by_id["field-prompt"]
    assert (prompt["tag"], prompt["attrs"]["name"]) == ("textarea", "prompt")
    assert prompt["text"] == "a bottle of wine on a wooden table, studio light"
    assert page.by_id["field-negative_prompt"]["text"] == "blurry, watermark"
    numbers = {
        name: page.by_id[f"field-{name}"]["attrs"] for name in ("seed", "steps", "cfg", "width")
    }
    assert {
        n: (a["type"], a["step"], a["min"], a["max"], a["value"]) for n, a in numbers.items()
    } == {
        "seed": ("number", "1", "0", "18446744073709551616", "156680208700286"),
        "steps": ("number", "1", "1", "150", "20"),
        "cfg": ("number", "any", "0", "30", "7.5"),
        "width": ("number", "1", "64", "4096", "1024"),
    }
    image = page.by_id["field-image"]["attrs"]
    assert (image["type"], image["accept"]) == ("file", "image/png,image/jpeg,image/webp")
    assert [a.get("data-random") for t, a in page.tags if t == "button" and "data-random" in a] == [
        "seed"
    ]
    assert set(page.labels) == {f"field-{n}" for n in ("prompt", "negative_prompt", *numbers)}
    assert page.by_id["label-image"]["text"] == "Reference image"
    assert page.by_id["generate"]["text"] == "Generate"
    fields = _config(html)["fields"]
    assert [(f["name"], f["kind"], f["seed"]) for f in fields] == [
        ("prompt", "text", False), ("negative_prompt", "text", False), ("seed", "integer", True),
        ("steps", "integer", False), ("cfg", "number", False), ("width", "integer", False),
        ("image", "image", False)]  # fmt: skip
    assert app.files["public/app.js"].startswith(b"// A ComfyUI workflow")
    assert {"clients/python/comfy_client.py", "clients/typescript/comfy-client.ts",
            "clients/typescript/comfy-client.mjs", "clients/python/runpod_client.py"} <= set(app.files)  # fmt: skip
    assert scan_files(app.files) == []  # No key, and nothing that looks like one.
    readme = app.files["README.md"].decode()
    assert "for the workflow `sdxl-text-to-image`" in readme
    assert "huggingface.co/comfyui" not in readme  # A workflow is no Hugging Face repo.
    assert "| `steps` (Steps) | integer | 20 | 1 to 150 |" in readme


def test_other_pages_get_no_workflow_clients_or_fields() -> None:
    app = render_app(spec_for("image"))
    assert not any("comfy" in path for path in app.files)
    assert "fields" not in _config(app.files["public/index.html"].decode())


@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_labels_are_inert_in_html_javascript_python_and_markdown(label: str) -> None:
    inputs = tuple(i.model_copy(update={"label": label}) for i in sdxl_inputs())
    spec = workflow_spec(inputs)
    app = render_app(spec)
    html = app.files["public/index.html"].decode()
    page = _parse(html)
    tags = [t for t, _ in page.tags]
    # Nothing injected: the config and app.js are the only scripts, the image field's
    # preview the only <img>, and no element has an event-handler attribute.
    assert tags.count("script") == 2 and tags.count("img") == 1
    assert not [t for t, a in page.tags if any(k.startswith("on") for k in a)]
    assert page.by_id["field-prompt"]["text"] == "a bottle of wine on a wooden table, studio light"
    shown = {target: node["text"] for target, node in page.labels.items()}
    assert shown == {f"field-{i.name}": label for i in inputs if i.kind != "image"}
    assert page.by_id["label-image"]["text"] == label  # Entities decode back to the label as typed.
    assert [f["label"] for f in _config(html)["fields"]] == [label] * 7
    source = app.files["clients/python/comfy_client.py"].decode()
    tree = ast.parse(source)  # Still valid Python, and the label is data in it.
    fields = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "FIELDS"
    )
    assert isinstance(fields.value, ast.Dict)
    assert {
        ast.literal_eval(c.args[1]) for c in fields.value.values if isinstance(c, ast.Call)
    } == {label}
    ts = app.files["clients/typescript/comfy-client.ts"].decode()
    assert label not in ts.split("export const FIELDS")[0]  # No label in a comment or a type.
    readme = app.files["README.md"].decode()
    assert "<script" not in readme and "<img" not in readme and "<svg" not in readme


def test_labels_become_one_plain_line() -> None:
    raw = sdxl_inputs()[0].model_copy(update={"label": "Prompt\n\u202eevil\u2028 " + "x" * 200})
    field = InputField.from_user_input(raw)
    assert field.label.startswith("Prompt evil x") and len(field.label) == 80
    assert InputField.from_user_input(raw.model_copy(update={"label": "\n\t"})).label == "prompt"
    with pytest.raises(ValidationError, match="one line"):
        InputField(name="prompt", label="two\nlines", kind="text")


def test_field_rules() -> None:
    by_name = {f.name: InputField.from_user_input(f) for f in sdxl_inputs()}
    assert by_name["image"].default is None  # "example.png" is a file in ComfyUI, not an upload.
    assert by_name["seed"].is_seed and not by_name["steps"].is_seed
    assert InputField(name="noise_seed_2", label="Seed", kind="integer").is_seed
    wild = UserInput(name="steps", label="Steps", kind="integer", node_id="3", input_name="steps",
                     default=20.0, minimum=1, maximum=10)  # fmt: skip
    assert InputField.from_user_input(wild).default is None  # Out of its own range: dropped.
    whole = InputField.from_user_input(wild.model_copy(update={"maximum": 50}))
    assert whole.default == 20 and isinstance(whole.default, int)
    for bad, error in (({"kind": "text", "minimum": 1}, "only integer and number"),
                       ({"kind": "integer", "minimum": 5, "maximum": 1}, "above maximum"),
                       ({"kind": "integer", "default": 2.5}, "not a valid integer"),
                       ({"kind": "number", "maximum": float("inf")}, "finite"),
                       ({"kind": "text", "name": "Prompt"}, "pattern")):  # fmt: skip
        with pytest.raises(ValidationError, match=error):
            InputField.model_validate({"name": "x", "label": "X"} | bad)
    fields = workflow_spec().fields
    with pytest.raises(ValidationError, match="repeated: prompt"):
        workflow_spec(fields=(*fields, fields[0]))
    with pytest.raises(ValidationError, match="only for kind='workflow'"):
        spec_for("image", fields=fields)
    hf = EndpointInfo(endpoint_id="ep0", model_id=WORKFLOW_MODEL_ID, target="huggingface",
                      url="https://x.endpoints.huggingface.cloud")  # fmt: skip
    with pytest.raises(ValidationError, match="RunPod endpoint"):
        workflow_spec(endpoint=hf)
    bare = workflow_spec(fields=(), example_input={})
    assert b"no inputs to set" in render_app(bare).files["public/index.html"]
    # The published app's check runs the workflow with its defaults, or its own values.
    assert smoke_input(bare) == {} and smoke_input(workflow_spec())["steps"] == 20


def _deployment(plan: dict[str, Any]) -> DeploymentView:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return DeploymentView(
        id="d-1", user_id="u", thread_id="t", repo_id=WORKFLOW_MODEL_ID, revision="a" * 40, kind="comfyui",
        state="ready", stage=None, message=None, name="kt-d-1", image=None, image_digest=None,
        registry_auth_id=None, template_id=None, endpoint_id="kt-dep-1", gpu_pools=["nvidia-l4"],
        gpu_count=1, workers_min=0, workers_max=1, idle_timeout_s=300, usd_per_second=0.0003,
        cost_usd=0.0, urls={}, plan=plan, created_at=now, updated_at=now, ready_at=now, ended_at=None,
    )  # fmt: skip


def test_spec_from_a_comfyui_deployment_is_the_workflow_form() -> None:
    comfy = ComfyWorker(
        name="sdxl-text-to-image", workflow={}, inputs=sdxl_inputs(), models=(), packages=()
    )
    worker = WorkerPlan(kind="comfyui", repo_id=WORKFLOW_MODEL_ID, revision="a" * 40, task="text-to-image",
                        dtype="float16", comfy=comfy)  # fmt: skip
    # As the deployment record stores it: plain JSON.
    plan = json.loads(
        json.dumps({"worker": worker.model_dump(mode="json"), "test_input": {"x": 1}})
    )
    spec = spec_from_deployment(_deployment(plan))
    assert (spec.kind, spec.title, spec.project) == (
        "workflow",
        "sdxl-text-to-image",
        "sdxl-text-to-image-app",
    )
    assert (spec.endpoint.endpoint_id, spec.endpoint.model_id) == ("kt-dep-1", WORKFLOW_MODEL_ID)
    assert [f.name for f in spec.fields] == [i.name for i in sdxl_inputs()]
    # The example input is the workflow's defaults (the smoke test's), without the image file.
    assert spec.example_input == {"prompt": "a bottle of wine on a wooden table, studio light",
                                  "negative_prompt": "blurry, watermark", "seed": 156680208700286,
                                  "steps": 20, "cfg": 7.5, "width": 1024}  # fmt: skip
    assert spec_from_deployment(_deployment(plan), title="Wine shots").title == "Wine shots"
    plan["worker"]["comfy"]["inputs"][0]["name"] = "Not A Name"
    with pytest.raises(AppUnavailable, match="deploy the workflow again"):
        spec_from_deployment(_deployment(plan))
    assert isinstance(AppSpec.model_validate(spec.model_dump()), AppSpec)
    assert re.fullmatch(r"[a-z0-9-]+", spec.project)


def test_the_sdxl_fixture_gets_a_field_per_input_it_exposes() -> None:
    """The analysis' own inputs (tools.comfy), from the real SDXL workflow kept as a fixture."""
    fixture = Path(__file__).parents[1] / "comfy/fixtures/sdxl-txt2img.json"
    workflow = parse_workflow(fixture.read_bytes(), name="sdxl-txt2img")
    inputs = find_inputs(workflow)
    spec = workflow_spec(inputs, title="SDXL")
    page = _parse(render_app(spec).files["public/index.html"].decode())
    for user_input in inputs:
        node = page.by_id[f"field-{user_input.name}"]
        if user_input.kind == "text":
            assert node["text"] == user_input.default
        else:
            assert node["attrs"]["value"] == str(user_input.default)
    assert spec.example_input == {i.name: i.default for i in inputs}
    assert [f.name for f in spec.fields if f.is_seed] == ["seed"]
