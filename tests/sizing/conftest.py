"""Fixtures for the sizing tests: published config.json files, an in-memory `HubReader`
built from Hub-API-shaped JSON, and the loopback Hugging Face fake with the real client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub.hf_api import ModelInfo
from huggingface_hub.utils import SafetensorsFileMetadata, SafetensorsRepoMetadata
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import NotFound
from tools.clients.huggingface import HuggingFaceClient
from tools.simulator.huggingface import DEFAULT_TOKEN, HuggingFaceFake
from tools.simulator.server import serve
from tools.sizing import ModelRequirements, requirements_from_config

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
SHA = "0123456789abcdef0123456789abcdef01234567"


def load_config(name: str) -> dict[str, Any]:
    """A published config.json from tests/sizing/fixtures/configs."""
    return json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8"))


def requirements(name: str, **kwargs: Any) -> ModelRequirements:
    """Offline requirements of a published model."""
    return requirements_from_config(load_config(name), **kwargs)


FileSpec = dict[str, Any] | str | int  # JSON object, text, or an opaque blob of this size


@dataclass
class MemoryRepo:
    files: dict[str, FileSpec]
    info: dict[str, Any]
    safetensors: SafetensorsRepoMetadata | None = None
    errors: dict[str, Exception] = field(default_factory=dict)


class MemoryHub:
    """An in-memory `HubReader`: repos as Hub API JSON, and errors injected per call."""

    def __init__(self) -> None:
        self.repos: dict[str, MemoryRepo] = {}
        self.calls: list[tuple[str, str]] = []

    def add(
        self,
        repo_id: str,
        files: dict[str, FileSpec],
        *,
        library: str | None = "transformers",
        pipeline_tag: str | None = "text-generation",
        gated: bool | str = False,
        parameters: dict[str, int] | None = None,
        license: str | None = "apache-2.0",
        tags: list[str] | None = None,
    ) -> MemoryRepo:
        siblings = []
        for path, spec in sorted(files.items()):
            size = spec if isinstance(spec, int) else len(_encode(spec))
            sibling: dict[str, Any] = {"rfilename": path, "size": size, "blobId": SHA}
            if isinstance(spec, int):
                sibling["lfs"] = {"size": size, "sha256": "0" * 64, "pointerSize": 134}
            siblings.append(sibling)
        info: dict[str, Any] = {
            "id": repo_id, "sha": SHA, "gated": gated, "private": False,
            "library_name": library, "pipeline_tag": pipeline_tag, "tags": tags or [],
            "siblings": siblings, "cardData": {"license": license} if license else {},
            "lastModified": "2026-01-01T00:00:00.000Z",
        }  # fmt: skip
        if parameters:
            info["safetensors"] = {"parameters": parameters, "total": sum(parameters.values())}
        repo = MemoryRepo(files, info)
        self.repos[repo_id] = repo
        return repo

    def _repo(self, repo_id: str, call: str) -> MemoryRepo:
        self.calls.append((call, repo_id))
        repo = self.repos.get(repo_id)
        if repo is None:
            raise NotFound(f"no model {repo_id}", provider="Hugging Face", status=404)
        if call in repo.errors:
            raise repo.errors[call]
        return repo

    async def model_info(self, repo_id: str, *, revision: str | None = None) -> ModelInfo:
        return ModelInfo(**self._repo(repo_id, "model_info").info)

    async def safetensors_metadata(
        self, repo_id: str, *, revision: str | None = None
    ) -> SafetensorsRepoMetadata | None:
        return self._repo(repo_id, "safetensors_metadata").safetensors

    async def safetensors_file_metadata(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> SafetensorsFileMetadata | None:
        self._repo(repo_id, filename)
        return None  # headers only come from the served fakes; sizing falls back to sizes

    async def read_json(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> dict[str, Any] | None:
        spec = self._repo(repo_id, filename).files.get(filename)
        return spec if isinstance(spec, dict) else None

    async def read_text(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> str | None:
        spec = self._repo(repo_id, filename).files.get(filename)
        return spec if isinstance(spec, str) else None


def _encode(spec: dict[str, Any] | str) -> bytes:
    return (json.dumps(spec) if isinstance(spec, dict) else spec).encode()


@pytest.fixture
def hub() -> MemoryHub:
    return MemoryHub()


@pytest.fixture(scope="module")
def hf_fake() -> Iterator[tuple[HuggingFaceFake, str]]:
    """The loopback Hugging Face fake, with one repo of every kind sizing must handle."""
    fake = HuggingFaceFake()
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
async def hf_client(hf_fake: tuple[HuggingFaceFake, str]) -> AsyncIterator[HuggingFaceClient]:
    """The real Hugging Face client, pointed at the fake, with a valid token."""
    fake, url = hf_fake
    fake.reset()
    async with httpx.AsyncClient() as http:
        yield HuggingFaceClient(
            http=http, base_url=url, token=SecretStr(DEFAULT_TOKEN), retry=Retry(max_attempts=1)
        )
