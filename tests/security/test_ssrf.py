"""SSRF: nothing a model card or the LLM writes is ever fetched as a URL, and nothing a user
writes but a ComfyUI workflow link in their own message (fetched by the front end, https
and public addresses only: tests/ui/test_attachments.py, tests/clients/test_workflow_fetch.py).

Provider base URLs come from settings only. Repo ids and revisions are checked before
they become a path under the Hub's base URL; a URL given as a repo id is refused (or, for
a huggingface.co model URL, read as the id it names, from the configured Hub). Redirects
that the Hub sends (to its CDN) are followed without the key. And no tool takes a URL: the
whole toolset, called with URLs in every string argument, reaches only the fakes that the
settings name."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr

from agent.events import ToolFinished
from agent.scripted import Call, Reply, ScriptedInteraction
from agent.toolset import build_toolset
from tests.agent.conftest import Chat
from tests.security.canary import Canary
from tools.clients import HuggingFaceClient, InvalidRequest, SizingHubReader
from tools.clients._http import Retry
from tools.simulator.all import FakeStack
from tools.sizing import SizingError, inspect_model

TOKEN = "hf_" + "S" * 34


@pytest.fixture(scope="module")
def target() -> Iterator[Canary]:
    """Where an attacker wants requests to go (an internal service, a metadata endpoint)."""
    with Canary.serving() as canary:
        yield canary


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Canary]:
    """The configured Hub base URL: records what the client asks of it."""
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    with Canary.serving() as canary:
        yield canary


@pytest.fixture
async def client(hub: Canary) -> AsyncIterator[HuggingFaceClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield HuggingFaceClient(
            http=http, base_url=hub.url, token=SecretStr(TOKEN), retry=Retry(max_attempts=1)
        )


def hostile_ids(target: str) -> list[str]:
    host = target.removeprefix("http://")
    return [
        f"{target}/owner/name", f"http://{host}", "https://evil.example/owner/name",
        f"//{host}/owner/name", f"{host}/name", "owner/../../admin", "../owner/name",
        "owner/name/../../api/whoami-v2", "owner/name?x=1", "owner/name#frag",
        "owner%2F..%2Fname", f"user@{host}/name", "owner\\name", "a/b/c",
        "file:///etc/passwd", "owner/name\r\nHost: evil.example", "", "/", "..",
    ]  # fmt: skip


async def test_hub_reads_refuse_ids_that_are_urls_or_paths(
    client: HuggingFaceClient, hub: Canary, target: Canary
) -> None:
    for repo_id in hostile_ids(target.url):
        with pytest.raises(SizingError, match="is not a Hugging Face repo id"):
            await inspect_model(SizingHubReader(client), repo_id)
        for read in (
            client.model_info(repo_id),
            client.read_json(repo_id, "config.json"),
            client.read_text(repo_id, "README.md"),
            client.safetensors_metadata(repo_id),
            client.auth_check(repo_id),
        ):
            with pytest.raises(InvalidRequest, match="not a Hugging Face model id"):
                await read
    assert hub.requests == [] and target.requests == []


@pytest.mark.parametrize(
    "repo_id",
    [".", "a/.", "./a", "-", "owner/name\n", "\nowner/name", "owner/name ", "-owner/name",
     "owner/name-", "owner/.name", "a--b/name", "owner/name.git", "café/name",
     "owner/" + "n" * 97, "o" * 97 + "/name"],
)  # fmt: skip
async def test_dot_segments_and_newlines_are_refused_as_invalid_ids(
    client: HuggingFaceClient, hub: Canary, repo_id: str
) -> None:
    for read in (
        lambda: client.read_json(repo_id, "config.json"),
        lambda: client.model_info(repo_id),
    ):
        with pytest.raises(InvalidRequest):
            await read()
    assert hub.requests == []


@pytest.mark.parametrize(
    "repo_id",
    ["gpt2", "meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-0.5B", "a/b", "_x/y_",
     "owner/" + "n" * 96, "o" * 96 + "/name", "org.name/model.v1.5"],
)  # fmt: skip
async def test_real_hub_ids_pass_the_check(
    client: HuggingFaceClient, hub: Canary, repo_id: str
) -> None:
    assert await client.read_json(repo_id, "config.json") is None  # the canary answers 404
    assert [r.path for r in hub.requests] == [f"/{repo_id}/resolve/main/config.json"]


async def test_a_model_url_is_read_from_the_configured_hub_only(
    client: HuggingFaceClient, hub: Canary, target: Canary
) -> None:
    with pytest.raises(SizingError):  # the canary Hub answers 404
        await inspect_model(SizingHubReader(client), "https://huggingface.co/owner/name")
    assert [r.path for r in hub.requests] == ["/api/models/owner/name"]
    assert target.requests == []


@pytest.mark.parametrize("revision", ["../../../api/whoami-v2", "main/../../x", "a?b=1", "%2e%2e"])
async def test_a_hostile_revision_stays_a_path_segment(
    client: HuggingFaceClient, hub: Canary, revision: str
) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the canary answers 404
        await client.model_info("owner/name", revision=revision)
    assert await client.read_json("owner/name", "config.json", revision=revision) is None
    assert hub.requests, "the reads went to the configured Hub"
    for seen in hub.requests:
        assert seen.path.startswith(("/api/models/owner/name/revision/", "/owner/name/resolve/"))
        assert "/../" not in seen.path and not seen.path.endswith("/..")


async def test_hub_redirects_are_followed_without_the_key(
    monkeypatch: pytest.MonkeyPatch, target: Canary
) -> None:
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    before = len(target.requests)
    with Canary.serving(redirect_to=target.url) as bouncing_hub:
        async with httpx.AsyncClient(trust_env=False) as http:
            client = HuggingFaceClient(http=http, base_url=bouncing_hub.url,
                                       token=SecretStr(TOKEN), retry=Retry(max_attempts=1))  # fmt: skip
            assert await client.read_text("owner/name", "README.md") is None
        assert bouncing_hub.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    followed = target.requests[before:]
    assert len(followed) == 1 and "authorization" not in followed[0].headers


def test_no_tool_takes_a_url() -> None:
    url_like = re.compile(r"(^|_)(url|uri|host|base|href|link|webhook|callback)s?($|_)")
    for name, tool in build_toolset().tools.items():
        props: dict[str, Any] = tool.tool_def.parameters_json_schema.get("properties", {})
        for param, schema in props.items():
            assert not url_like.search(param), f"{name}.{param} looks like a URL parameter"
            assert schema.get("format") not in {"uri", "url"}, f"{name}.{param}"


def _args_full_of(url: str, schema: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for param, spec in schema.get("properties", {}).items():
        if "enum" in spec:
            args[param] = spec["enum"][0]
        elif spec.get("type") == "string":
            args[param] = url
        elif spec.get("type") == "integer":
            args[param] = spec.get("default", 1)
        elif spec.get("type") == "boolean":
            args[param] = True
    return args


async def test_every_tool_called_with_urls_reaches_only_the_configured_providers(
    chat: Any, fakes: FakeStack, target: Canary
) -> None:
    tools = build_toolset().tools
    calls = [
        Call(tool=name, args=_args_full_of(f"{target.url}/latest/meta-data", t.tool_def.parameters_json_schema))
        for name, t in sorted(tools.items())
    ]  # fmt: skip
    everything = ScriptedInteraction(secrets=[None] * len(calls), approvals=[True] * len(calls))
    c: Chat = chat([*calls, Reply(text="done")], interaction=everything)
    before = len(target.requests)
    turn = await c.turn("fetch these for me")
    assert turn.final.status == "done"
    assert {e.tool for e in turn.of(ToolFinished)} == set(tools)  # every tool really ran
    assert target.requests[before:] == []
    hosts = {httpx.URL(url).netloc for url in fakes.settings_fields().values()}
    assert all(httpx.URL(v).netloc in hosts for v in c.settings.model_dump().values()
               if isinstance(v, str) and v.startswith("http"))  # fmt: skip
