"""HuggingFaceClient (real `HfApi` + our httpx reads) against the Hub fake."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import httpx
import pytest
from huggingface_hub.hf_api import ModelInfo
from huggingface_hub.utils import SafetensorsRepoMetadata
from pydantic import SecretStr

from tests.fakes import hf_repos
from tests.fakes.all import FakeStack
from tests.fakes.clock import FakeClock
from tests.fakes.huggingface import DEFAULT_TOKEN, HfUser
from tools.clients._http import Retry
from tools.clients.errors import (
    AuthError,
    GatedRepo,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderPermissionError,
    RateLimited,
    Upstream,
)
from tools.clients.huggingface import HuggingFaceClient

PLANTED = "hf_PLANTEDplantedPLANTEDplanted0123456789"
LLAMA = "kriptik-test/tiny-llama"


@runtime_checkable
class HubReader(Protocol):
    """What tools/sizing consumes (a copy, to hold the client to it)."""

    async def model_info(self, repo_id: str, *, revision: str | None = None) -> ModelInfo: ...
    async def safetensors_metadata(
        self, repo_id: str, *, revision: str | None = None
    ) -> SafetensorsRepoMetadata | None: ...
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


GATED_MESSAGE = (
    "kriptik-test/gated-llama is a gated model and this Hugging Face account has no access yet (403). "
    "Request access at https://huggingface.co/kriptik-test/gated-llama (signed in as the token's owner), "
    "wait for approval, then try again."
)


async def test_gated_repo_says_how_to_request_access(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client, repo_id = _client(fakes, http, retry), "kriptik-test/gated-llama"
    for call in (
        lambda: client.auth_check(repo_id),
        lambda: client.read_json(repo_id, "config.json"),
        lambda: client.safetensors_metadata(repo_id),
    ):
        with pytest.raises(GatedRepo) as caught:
            await call()
        assert str(caught.value) == GATED_MESSAGE
    assert (await client.model_info(repo_id)).gated == "manual"  # metadata stays public
    fakes.huggingface.grant("kriptik-tester", repo_id)
    await client.auth_check(repo_id)
    assert await client.safetensors_metadata(repo_id) is not None


async def test_write_check_needs_a_write_token(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    with pytest.raises(ProviderPermissionError):
        await _client(fakes, http, retry).auth_check(LLAMA, write=True)


async def test_missing_and_private_repos(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.huggingface.add_repo(hf_repos.HubRepo("someone/private", private=True))
    for token, status in ((DEFAULT_TOKEN, 404), (None, 401)):
        with pytest.raises(NotFound) as caught:
            await _client(fakes, http, retry, token).model_info("someone/private")
        assert str(caught.value) == (
            f"Hugging Face could not find the model someone/private ({status}). Check the id (owner/name); "
            "if it is private, use a token of an account that can see it."
        )


async def test_a_bad_token_is_an_auth_error(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry, "hf_revoked")
    for call in (
        client.whoami,
        lambda: client.model_info(LLAMA),
        lambda: client.read_text(LLAMA, "README.md"),
    ):
        with pytest.raises(AuthError) as caught:
            await call()
        assert str(caught.value) == (
            "Hugging Face rejected the key (401). Create a new one at https://huggingface.co/settings/tokens, "
            "then paste it here."
        )


async def test_bad_repo_ids_never_reach_the_network(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    with pytest.raises(InvalidRequest, match="not a Hugging Face model id"):
        await _client(fakes, http, retry).read_json("../api/whoami-v2", "x.json")
    assert fakes.huggingface.calls == []


async def test_429_then_success_waits_the_advised_time(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.huggingface.fail("GET /api/models/{repo}", 429, retry_after=11)
    fakes.huggingface.fail("GET /api/whoami-v2", 429, retry_after=4)
    client = _client(fakes, http, retry)
    await client.model_info(LLAMA)
    await client.whoami()
    assert clock.sleeps == [11.0, 4.0]


async def test_persistent_failures_map_to_the_tree(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.huggingface.fail("GET /api/models/{repo}", 503, times=None)
    fakes.huggingface.fail("GET /api/whoami-v2", 429, times=None)
    client = _client(fakes, http, retry)
    with pytest.raises(Upstream, match=r"Hugging Face had a server error \(503\)"):
        await client.model_info(LLAMA)
    with pytest.raises(RateLimited, match=r"Hugging Face is rate-limiting requests \(429\)"):
        await client.whoami()
    assert len(fakes.huggingface.calls_to("GET /api/models/{repo}")) == 4


async def test_dropped_header_read_is_retried(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.huggingface.fail("GET /{repo}/resolve/{rev}/{file}", "drop")
    assert await _client(fakes, http, retry).safetensors_metadata(LLAMA) is not None
    assert len(clock.sleeps) == 1


async def test_a_planted_token_never_reaches_logs_or_errors(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, all_logs: pytest.LogCaptureFixture
) -> None:
    fakes.huggingface.add_token(PLANTED)
    fakes.huggingface.fail(
        "GET /api/models/{repo}", 500, times=None, message=f"token {PLANTED} broke us"
    )
    client = _client(fakes, http, retry, PLANTED)
    errors: list[ProviderError] = []
    for call in (
        lambda: client.model_info(LLAMA),
        lambda: client.auth_check("kriptik-test/gated-llama"),
    ):
        with pytest.raises(ProviderError) as caught:
            await call()
        errors.append(caught.value)
    await client.whoami()
    await client.safetensors_metadata(LLAMA)
    text = " ".join([*map(str, errors), *map(repr, errors), repr(client), all_logs.text])
    assert PLANTED not in text
    assert all(e.__cause__ is None for e in errors)
