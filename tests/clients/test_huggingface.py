"""HuggingFaceClient (real `HfApi` + our httpx reads) against the Hub fake."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import httpx
import pytest
from huggingface_hub.hf_api import ModelInfo
from huggingface_hub.utils import SafetensorsFileMetadata, SafetensorsRepoMetadata
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import (
    AuthError,
    InvalidRequest,
    NotFound,
)
from tools.clients.huggingface import HuggingFaceClient
from tools.simulator import hf_repos
from tools.simulator.all import FakeStack
from tools.simulator.huggingface import DEFAULT_TOKEN, HfUser

PLANTED = "hf_PLANTEDplantedPLANTEDplanted0123456789"
LLAMA = "kriptik-test/tiny-llama"


@runtime_checkable
class HubReader(Protocol):
    """What tools/sizing consumes (a copy, to hold the client to it)."""

    async def model_info(self, repo_id: str, *, revision: str | None = None) -> ModelInfo: ...
    async def safetensors_metadata(
        self, repo_id: str, *, revision: str | None = None
    ) -> SafetensorsRepoMetadata | None: ...
    async def safetensors_file_metadata(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> SafetensorsFileMetadata | None: ...
    async def read_json(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> dict[str, Any] | None: ...
    async def read_text(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> str | None: ...


def _client(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, token: str | None = DEFAULT_TOKEN
) -> HuggingFaceClient:
    return HuggingFaceClient(
        http=http,
        base_url=fakes.url("huggingface"),
        token=SecretStr(token) if token else None,
        retry=retry,
    )


def _params(repo: hf_repos.HubRepo) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in repo.files.values():
        for t in f.tensors:
            counts[t.dtype] = counts.get(t.dtype, 0) + t.numel
    return counts


async def test_client_satisfies_the_sizing_protocol(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    assert isinstance(_client(fakes, http, retry), HubReader)


async def test_whoami_reports_name_orgs_and_role(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.huggingface.add_token(PLANTED, HfUser(name="ada", role="write", orgs=["lab"]))
    me = await _client(fakes, http, retry, PLANTED).whoami()
    assert (me.name, me.token_role, me.orgs, me.kind) == ("ada", "write", ("lab",), "user")


async def test_whoami_without_a_token_asks_for_one(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    with pytest.raises(
        AuthError,
        match=r"Hugging Face needs a token for this\. Create one at https://huggingface\.co/settings/tokens",
    ):
        await _client(fakes, http, retry, None).whoami()


async def test_model_info_has_file_sizes_and_parameter_counts(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    repo = fakes.huggingface.repos[LLAMA]
    info = await _client(fakes, http, retry).model_info(LLAMA)
    sizes = {s.rfilename: s.size for s in info.siblings or []}
    assert sizes["model.safetensors"] == repo.files["model.safetensors"].size
    assert info.safetensors is not None and info.safetensors.parameters == _params(repo)
    assert info.config == {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    assert ("blobs", "true") in fakes.huggingface.calls_to("GET /api/models/{repo}")[0].query


async def test_model_info_at_a_revision(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    sha = fakes.huggingface.repos[LLAMA].sha
    assert (await _client(fakes, http, retry).model_info(LLAMA, revision=sha)).sha == sha
    with pytest.raises(NotFound) as caught:
        await _client(fakes, http, retry).model_info(LLAMA, revision="v9")
    assert str(caught.value) == (
        "The model kriptik-test/tiny-llama has no revision 'v9' (404). Use a branch, tag or commit that exists, "
        "or leave the revision out for the default branch."
    )


@pytest.mark.parametrize(
    ("builder", "sharded"),
    [
        (hf_repos.safetensors_repo, False),
        (hf_repos.sharded_repo, True),
        (hf_repos.mixed_dtype_repo, False),
        (hf_repos.gptq_repo, False),
        (hf_repos.large_header_repo, False),
    ],
)
async def test_safetensors_headers_are_read_by_range(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, builder: Any, sharded: bool
) -> None:
    repo = fakes.huggingface.add_repo(builder())
    meta = await _client(fakes, http, retry).safetensors_metadata(repo.repo_id)
    assert meta is not None and meta.sharded is sharded
    assert meta.parameter_count == _params(repo)
    reads = fakes.huggingface.calls_to("GET /{repo}/resolve/{rev}/{file}")
    assert all("range" in c.headers for c in reads)
    weights = sum(f.size for p, f in repo.files.items() if p.endswith(".safetensors"))
    assert sum(len(c.body) for c in reads) < weights  # headers only, never the weights


async def test_a_large_header_takes_a_second_range_request(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    await _client(fakes, http, retry).safetensors_metadata("kriptik-test/many-tensors")
    ranges = [
        c.headers["range"] for c in fakes.huggingface.calls_to("GET /{repo}/resolve/{rev}/{file}")
    ]
    assert ranges[0] == "bytes=0-100000"
    assert ranges[1].startswith("bytes=8-")


async def test_mixed_dtypes_and_gptq_keep_their_storage_types(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    mixed = await client.safetensors_metadata("kriptik-test/mixed-moe")
    gptq = await client.safetensors_metadata("kriptik-test/tiny-llama-gptq")
    assert mixed is not None and set(mixed.parameter_count) == {"BF16", "U8"}
    assert gptq is not None and set(gptq.parameter_count) == {"F16", "I32"}


@pytest.mark.parametrize("repo_id", ["kriptik-test/bin-only", "kriptik-test/tiny-diffusion"])
async def test_no_root_safetensors_means_none(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, repo_id: str
) -> None:
    assert await _client(fakes, http, retry).safetensors_metadata(repo_id) is None


async def test_both_formats_repo_lists_both(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    info = await _client(fakes, http, retry).model_info("kriptik-test/both-formats")
    names = {s.rfilename for s in info.siblings or []}
    assert {"pytorch_model.bin", "model.safetensors"} <= names


async def test_read_json_and_text(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    client = _client(fakes, http, retry)
    config = await client.read_json(LLAMA, "config.json")
    assert config is not None and config["num_hidden_layers"] == 2
    card = await client.read_text(LLAMA, "README.md")
    assert card is not None and card.startswith("---\nlicense: apache-2.0")
    assert await client.read_json(LLAMA, "absent.json") is None
    assert await client.read_text(LLAMA, "absent.md") is None
    index = await client.read_json("kriptik-test/tiny-diffusion", "model_index.json")
    assert index is not None and index["unet"] == ["diffusers", "UNet2DConditionModel"]
    with pytest.raises(InvalidRequest, match="is not a JSON object"):
        await client.read_json(LLAMA, "README.md")
