"""HuggingFaceClient errors: gated, missing, private, bad tokens, retries, redaction."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

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
from tools.simulator import hf_repos
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.huggingface import DEFAULT_TOKEN, HfUser

PLANTED = "hf_PLANTEDplantedPLANTEDplanted0123456789"
LLAMA = "kriptik-test/tiny-llama"


def _client(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, token: str | None = DEFAULT_TOKEN
) -> HuggingFaceClient:
    return HuggingFaceClient(
        http=http,
        base_url=fakes.url("huggingface"),
        token=SecretStr(token) if token else None,
        retry=retry,
    )


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
    fakes.huggingface.add_token(PLANTED, HfUser(role="read"))
    with pytest.raises(ProviderPermissionError):
        await _client(fakes, http, retry, PLANTED).auth_check(LLAMA, write=True)
    await _client(fakes, http, retry).auth_check(LLAMA, write=True)  # the default: a write token


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
