"""OpenRouterClient against the OpenRouter fake (contract: openrouter.subset.openapi.json)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderPermissionError,
    RateLimited,
    Upstream,
)
from tools.clients.openrouter import OpenRouterClient
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.openrouter import DEFAULT_KEY, OpenRouterAccount

PLANTED = "sk-or-v1-PLANTED-0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a"


def _client(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, key: str = DEFAULT_KEY
) -> OpenRouterClient:
    return OpenRouterClient(
        http=http, base_url=fakes.url("openrouter") + "/api/v1", token=SecretStr(key), retry=retry
    )


async def test_key_reports_limit_and_usage(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.openrouter.add_key(PLANTED, OpenRouterAccount(label="team key", limit=10.0, usage=2.5))
    key = await _client(fakes, http, retry, PLANTED).key()
    assert (key.label, key.limit, key.limit_remaining, key.usage) == ("team key", 10.0, 7.5, 2.5)
    call = fakes.openrouter.calls_to("GET /api/v1/key")[0]
    assert call.headers["authorization"] == f"Bearer {PLANTED}"
    assert PLANTED not in call.path


async def test_models_parse_prices_and_tool_support(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    models = {m.id: m for m in await _client(fakes, http, retry).models()}
    sonnet = models["anthropic/claude-sonnet-4.5"]
    assert sonnet.prompt_price == Decimal("0.000003")
    assert sonnet.prompt_per_million == Decimal("3.000000")
    assert sonnet.context_length == 1_000_000
    assert sonnet.supports_tools
    assert not models["meta-llama/llama-3.1-8b-instruct"].supports_tools


async def test_tools_only_asks_openrouter_to_filter(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    models = await _client(fakes, http, retry).models(tools_only=True)
    assert {m.id for m in models} == {"anthropic/claude-sonnet-4.5", "openai/gpt-4o-mini"}
    assert ("supported_parameters", "tools") in fakes.openrouter.calls_to("GET /api/v1/models")[
        0
    ].query


MESSAGES: list[tuple[int, type[ProviderError], str]] = [
    (401, AuthError,
     "OpenRouter rejected the key (401). Create a new one at https://openrouter.ai/settings/keys, then paste it here."),
    (403, ProviderPermissionError,
     "OpenRouter refused this request (403): forbidden for this key. This call needs a management key, not an "
     "inference key. Create a key with that access at https://openrouter.ai/settings/keys, then paste it here."),
    (404, NotFound,
     "OpenRouter could not find the model list (404). Check the name or id, and that it belongs to the account "
     "of this key."),
    (409, Conflict,
     "OpenRouter reports a conflict for the model list (409): already exists. It may exist already or have changed "
     "meanwhile: look it up and reuse it, or pick another name."),
    (422, InvalidRequest,
     "OpenRouter rejected the request (422): unprocessable entity. Correct the value it names and try again."),
    (429, RateLimited, "OpenRouter is rate-limiting requests (429). Wait a minute and try again."),
    (500, Upstream,
     "OpenRouter had a server error (500). The problem is on OpenRouter's side: try again in a few minutes "
     "(status: https://status.openrouter.ai)."),
    (503, Upstream,
     "OpenRouter had a server error (503). The problem is on OpenRouter's side: try again in a few minutes "
     "(status: https://status.openrouter.ai)."),
]  # fmt: skip


@pytest.mark.parametrize(("status", "cls", "message"), MESSAGES, ids=[str(m[0]) for m in MESSAGES])
async def test_every_error_class_has_an_actionable_message(
    fakes: FakeStack,
    http: httpx.AsyncClient,
    retry: Retry,
    status: int,
    cls: type[ProviderError],
    message: str,
) -> None:
    fakes.openrouter.fail("GET /api/v1/models", status, times=None)
    with pytest.raises(cls) as caught:
        await _client(fakes, http, retry).models()
    assert type(caught.value) is cls
    assert str(caught.value) == message
    assert caught.value.status == status
    assert caught.value.provider == "OpenRouter"
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req-")


async def test_an_unknown_key_is_an_auth_error(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    with pytest.raises(AuthError):
        await _client(fakes, http, retry, "sk-or-v1-unknown").key()


async def test_a_planted_key_never_reaches_logs_or_errors(
    fakes: FakeStack,
    http: httpx.AsyncClient,
    clock: FakeClock,
    retry: Retry,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    fakes.openrouter.add_key(PLANTED)
    # A provider that echoes the key in its error text must not carry it into our error.
    fakes.openrouter.fail("GET /api/v1/key", 422, message=f"key {PLANTED} is malformed")
    fakes.openrouter.fail("GET /api/v1/models", 500, times=None)
    client = _client(fakes, http, retry, PLANTED)
    errors: list[ProviderError] = []
    for call in (client.key, client.models):
        with pytest.raises(ProviderError) as caught:
            await call()
        errors.append(caught.value)
    assert "[redacted]" in str(errors[0])
    text = " ".join(
        [*(str(e) for e in errors), *(repr(e) for e in errors), repr(client), all_logs.text]
    )
    assert "retrying" in all_logs.text  # the log did record the retries...
    assert PLANTED not in text  # ...but never the key
    assert PLANTED[8:30] not in text
