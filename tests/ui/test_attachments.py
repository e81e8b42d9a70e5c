"""Workflows brought to a chat message, before the agent runs: an attached `.json`, a
pasted workflow and an https link to one (fetched from a real HTTPS server on loopback)
are stored and replaced, for the model, by one marker line with the id; other attachments
and ordinary text pass through; a file that is not a workflow, one over 5 MB, an http link
and a link to a private address are refused with the reason and the agent is not run."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from tests.clients.tls_server import serving_https
from tests.comfy.fixtures import SDXL, fixture_bytes
from ui.web.attachments import prepare_message
from vault import Settings, Vault
from vault.workflows import WorkflowRecord


@dataclass
class _Element:
    """The fields of a Chainlit file element that the chat reads."""

    name: str
    path: str
    mime: str = "application/json"


@dataclass
class _Root:
    vault: Vault
    http: httpx.AsyncClient | None = None
    settings: Settings | None = None


async def _user(vault: Vault) -> str:
    return (await vault.users.create("ann", SecretStr("correct horse battery"))).id


def _file(tmp_path: Path, name: str, data: bytes) -> _Element:
    path = tmp_path / name
    path.write_bytes(data)
    return _Element(name=name, path=str(path))


async def test_an_attached_workflow_is_stored_and_the_model_reads_only_its_id(
    vault: Vault, tmp_path: Path
) -> None:
    ann = await _user(vault)
    element = _file(tmp_path, SDXL, fixture_bytes(SDXL))
    prepared = await prepare_message(cast(Any, _Root(vault)), ann, "Deploy this", [element])
    assert prepared.refusal is None
    first, marker = prepared.text.splitlines()
    assert first == "Deploy this"
    assert marker.startswith("[ComfyUI workflow attached: sdxl-txt2img, 7 nodes, workflow id ")
    workflow_id = marker.split("workflow id ")[1].split(".")[0]
    stored = await vault.workflows.get(ann, workflow_id)
    assert '"class_type":"KSampler"' in stored.api_json
    assert "evening sunset" not in prepared.text  # the workflow's own text stays out


async def test_a_pasted_workflow_becomes_the_same_marker(vault: Vault) -> None:
    ann = await _user(vault)
    pasted = fixture_bytes(SDXL).decode()
    prepared = await prepare_message(cast(Any, _Root(vault)), ann, pasted, [])
    assert prepared.refusal is None
    assert prepared.text.startswith("Deploy this ComfyUI workflow.\n[ComfyUI workflow attached:")


@pytest.mark.parametrize("text", ["Deploy Qwen/Qwen2.5-0.5B-Instruct", '{"model": "x"}'])
async def test_ordinary_messages_and_other_files_pass_through(
    vault: Vault, tmp_path: Path, text: str
) -> None:
    ann = await _user(vault)
    picture = _Element(name="cat.png", path=str(tmp_path / "cat.png"), mime="image/png")
    prepared = await prepare_message(cast(Any, _Root(vault)), ann, text, [picture])
    assert prepared.text == text and prepared.refusal is None


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b'{"hello": "world"}', "API format"),
        (b'{"1": {"class_type": "KSampler", "inputs": {"model": ["9", 0]}}}', "9"),
        (b"{" + b" " * (5 * 1024 * 1024) + b"}", "at most 5 MB"),
    ],
)
async def test_a_file_that_cannot_be_taken_is_refused_and_nothing_is_stored(
    vault: Vault, tmp_path: Path, data: bytes, says: str
) -> None:
    ann = await _user(vault)
    element = _file(tmp_path, "w.json", data)
    prepared = await prepare_message(cast(Any, _Root(vault)), ann, "Deploy this", [element])
    assert prepared.refusal is not None and says in prepared.refusal, prepared.refusal
    assert prepared.refusal.startswith("I could not take that workflow:")
    async with vault.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WorkflowRecord)) == 0


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serving_https(tmp_path_factory.mktemp("tls")) as served:
        yield served


async def _with_link(vault: Vault, settings: Settings, server: tuple[str, str], text: str):
    trusted = ssl.create_default_context(cadata=server[1])
    async with httpx.AsyncClient(verify=trusted, trust_env=False) as http:
        root = cast(Any, _Root(vault, http, settings))
        return await prepare_message(root, await _user(vault), text, [])


async def test_a_link_to_a_workflow_in_the_message_is_fetched_and_stored(
    vault: Vault, settings: Settings, https_server: tuple[str, str]
) -> None:
    loopback = settings.model_copy(update={"workflow_fetch_allow_private": True})
    text = f"Deploy {https_server[0]}/sdxl.json please"
    prepared = await _with_link(vault, loopback, https_server, text)
    assert prepared.refusal is None, prepared.refusal
    assert prepared.text.startswith(text + "\n[ComfyUI workflow attached: sdxl, 7 nodes,")


@pytest.mark.parametrize(
    ("link", "says"),
    [("{base}/sdxl.json", "not a public address"), ("http://127.0.0.1:9/w.json", "https")],
)
async def test_a_link_that_cannot_be_fetched_is_refused_with_the_reason(
    vault: Vault, settings: Settings, https_server: tuple[str, str], link: str, says: str
) -> None:
    # The default settings: only public addresses (here, loopback is refused).
    text = "Deploy " + link.format(base=https_server[0])
    prepared = await _with_link(vault, settings, https_server, text)
    assert prepared.refusal is not None and says in prepared.refusal, prepared.refusal
