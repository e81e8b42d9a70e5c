"""Hugging Face Hub: token checks, gated access, model metadata and safetensors headers.

Metadata goes through `huggingface_hub.HfApi(endpoint=...)` in a worker thread (its calls
are synchronous), with the key passed per call so that the `HfApi` never keeps it. Small
files (`config.json`, the model card) are read with our own `httpx` client: no disk cache
shared between users, and a Range cap on what is downloaded. Safetensors headers are read
by HTTP Range through `HfApi.parse_safetensors_file_metadata`, one request per shard.

Errors: `AuthError` (bad token), `GatedRepo` (request access first), `NotFound` (repo or
revision), `RateLimited`, `Upstream` / `Timeout` / `Unreachable`. A missing *file* is not
an error: `read_json`, `read_text` and `safetensors_metadata` return None.
"""

from __future__ import annotations

import asyncio
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, cast

import httpx
from huggingface_hub import errors as hf
from huggingface_hub.utils import SafetensorsFileMetadata, SafetensorsRepoMetadata
from pydantic import SecretStr

from tools.clients._hf import (
    HUGGINGFACE,
    HfIdentity,
    call_hub,
    identity_fields,
    json_object,
    read_file,
    valid_repo_id,
    whoami,
)
from tools.clients._http import HttpApi, Retry
from tools.clients.errors import AuthError

if TYPE_CHECKING:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import ModelInfo

__all__ = ["HUGGINGFACE", "HfIdentity", "HuggingFaceClient"]

_SINGLE = "model.safetensors"
_TEXT_LIMIT, _JSON_LIMIT = 1 << 20, 16 << 20  # A model card is cut at 1 MiB: front matter first.


class HuggingFaceClient:
    """The Hub for one (optional) token. `SizingHubReader` adapts it to sizing's `HubReader`.

    Args:
        http: The process-wide HTTP client (for small file reads).
        base_url: Hub root, e.g. `https://huggingface.co` (settings: huggingface_base_url).
        token: The user's token; None reads public repos anonymously.
        timeout_s: Per-request timeout.
        retry: Retry policy (fake clock in tests).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        token: SecretStr | None,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        self._api = HttpApi(
            http=http, base_url=base_url, info=HUGGINGFACE, token=token,
            timeout_s=timeout_s, retry=retry,
        )  # fmt: skip
        self._token = token

    @cached_property
    def _hub(self) -> HfApi:
        # Built on the first call: huggingface_hub's HfApi module is 18 MiB, and the web app
        # builds this client at start. token=False: never HF_TOKEN or a saved login; each
        # call passes its key.
        from huggingface_hub import HfApi

        return HfApi(endpoint=self._api.base_url, token=False, library_name="kriptik")

    def __repr__(self) -> str:
        return f"HuggingFaceClient(base_url={self._api.base_url!r})"

    async def whoami(self) -> HfIdentity:
        """The token's account, orgs and role (`GET /api/whoami-v2`)."""
        if self._token is None:
            raise AuthError(
                f"Hugging Face needs a token for this. Create one at {HUGGINGFACE.keys_url}, "
                "then paste it here.",
                provider=HUGGINGFACE.name,
            )
        key = self._token.get_secret_value()
        data = await call_hub(self._api, "whoami", lambda: whoami(self._hub, key))
        return self._api.model(HfIdentity, identity_fields(data))

    async def auth_check(self, repo_id: str, *, write: bool = False) -> None:
        """Raise `GatedRepo`, `NotFound` or `AuthError` unless this token may read (write)."""
        key, rid = self._key(), valid_repo_id(repo_id)
        fn = lambda: self._hub.auth_check(rid, token=key, write=write)  # noqa: E731
        await call_hub(self._api, "auth-check", fn, repo_id=repo_id)

    async def model_info(self, repo_id: str, *, revision: str | None = None) -> ModelInfo:
        """Repo metadata with file sizes (`files_metadata=True`)."""
        key, rid, timeout = self._key(), valid_repo_id(repo_id), self._api.timeout_s
        fn = lambda: self._hub.model_info(  # noqa: E731
            rid, revision=revision, files_metadata=True, token=key, timeout=timeout
        )
        return await call_hub(self._api, "model_info", fn, repo_id=repo_id, revision=revision)

    async def safetensors_metadata(
        self, repo_id: str, *, revision: str | None = None
    ) -> SafetensorsRepoMetadata | None:
        """Every safetensors header (single file or sharded), or None for no safetensors."""
        single = await self._header(repo_id, _SINGLE, revision)
        if single is not None:
            weight_map = dict.fromkeys(single.tensors, _SINGLE)
            return SafetensorsRepoMetadata(None, False, weight_map, {_SINGLE: single})
        index = await self.read_json(repo_id, f"{_SINGLE}.index.json", revision=revision)
        if index is None:
            return None
        raw_map = cast("dict[str, Any]", index.get("weight_map") or {})
        weight_map = {str(k): str(v) for k, v in raw_map.items()}
        shards = sorted(set(weight_map.values()))
        headers = await asyncio.gather(*(self._header(repo_id, s, revision) for s in shards))
        files = {s: h for s, h in zip(shards, headers, strict=True) if h is not None}
        return SafetensorsRepoMetadata(index.get("metadata"), True, weight_map, files)

    async def safetensors_file_metadata(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> SafetensorsFileMetadata | None:
        """One safetensors file's header (e.g. a diffusers component's), or None when absent."""
        return await self._header(repo_id, filename, revision)

    async def read_json(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> dict[str, Any] | None:
        """A JSON file from the repo as a dict, or None when the repo has no such file."""
        raw = await read_file(self._api, repo_id, filename, revision, _JSON_LIMIT)
        return None if raw is None else json_object(raw, repo_id=repo_id, filename=filename)

    async def read_text(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> str | None:
        """A text file (e.g. README.md), at most 1 MiB of it, or None when it is absent."""
        raw = await read_file(self._api, repo_id, filename, revision, _TEXT_LIMIT)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    def _key(self) -> str | Literal[False]:
        return self._token.get_secret_value() if self._token else False

    async def _header(
        self, repo_id: str, filename: str, revision: str | None
    ) -> SafetensorsFileMetadata | None:
        key, rid, timeout = self._key(), valid_repo_id(repo_id), self._api.timeout_s

        def parse() -> SafetensorsFileMetadata | None:
            try:
                return self._hub.parse_safetensors_file_metadata(
                    rid, filename, revision=revision, token=key, timeout=timeout
                )
            except hf.RemoteEntryNotFoundError:
                return None

        return await call_hub(self._api, "safetensors", parse, repo_id=repo_id, revision=revision)
