"""The chat model: OpenRouter by default, or any OpenAI-compatible server.

- OpenRouter: `OpenRouterModel` with the configured model id, fallbacks sent as
  `models` (`settings.fallback_models`), and usage accounting on, so every response
  carries its real cost in USD (`provider_details['cost']`).
- `settings.llm_base_url` set: `OpenAIChatModel` against that server (Ollama, vLLM,
  LM Studio); a key is optional.

A model (and its `AsyncOpenAI` client, with its connection pool) is built once per base
URL, key and model settings, then reused by every turn of the event loop that asks for the
same: building one costs a TLS context (~30 ms of CPU loading the CA bundle) and a TCP
connection. The cache is keyed by a SHA-256 digest, so no key sits in a dict that could be
printed; one TLS context serves every client of the process; past `_MAX_MODELS` the least
recently used is dropped (and closed once no turn holds it). Each key gets its own client,
so no connection or cookie is shared between users. The SDK retries 429s and 5xx itself,
honouring `Retry-After`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import httpx2
from openai import AsyncOpenAI, DefaultAsyncHttpxClient
from pydantic import SecretStr
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.openrouter import OpenRouterModel, OpenRouterModelSettings
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.providers.openrouter import OpenRouterProvider

from agent.completions import ChatClient
from vault import REDACTOR, Settings

__all__ = [
    "APP_TITLE", "LOCAL_KEY", "close_models", "needs_key", "open_model", "response_cost",
]  # fmt: skip

APP_TITLE = "KripTik AI"
# What a local server gets as its key when none is configured: a placeholder, rather than
# letting the SDK fall back on OPENAI_API_KEY from the environment.
LOCAL_KEY = "not-needed"
# The SDK's own retries (429 and 5xx, with backoff and Retry-After); the turn's request
# limit bounds everything else.
_SDK_RETRIES = 3
_MAX_MODELS = 64  # per event loop: distinct keys (users) with a warm client


@dataclass(frozen=True, eq=False)
class _Entry:
    model: Model
    client: AsyncOpenAI

    def __repr__(self) -> str:  # the client holds a key: never print it
        return f"_Entry(model={self.model.model_name!r})"


# The models of one event loop (their connections belong to it); another loop starts afresh.
_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
_models: OrderedDict[str, _Entry] = OrderedDict()
_tls: ssl.SSLContext | None = None


def needs_key(settings: Settings) -> bool:
    """OpenRouter needs a key; a local OpenAI-compatible server usually does not."""
    return not settings.llm_base_url


def _tls_context() -> ssl.SSLContext:
    """One TLS context for the process, as the SDK would make it (the system's CA bundle)."""
    global _tls
    if _tls is None:
        _tls = httpx2.create_ssl_context()
    return _tls


class _Http(DefaultAsyncHttpxClient):
    """The SDK's default HTTP client, closed when dropped (as the SDK's own is)."""

    def __del__(self) -> None:
        if self.is_closed:
            return
        try:
            asyncio.get_running_loop().create_task(self.aclose())
        except RuntimeError:  # no loop running: the process is ending
            pass


def _client(settings: Settings, base_url: str, key: str) -> AsyncOpenAI:
    timeout = max(settings.http_timeout_s, 120.0)  # a long answer streams for a while
    return ChatClient(
        base_url=base_url,
        api_key=key,
        max_retries=_SDK_RETRIES,
        timeout=timeout,
        default_headers={"HTTP-Referer": settings.app_url, "X-Title": APP_TITLE},
        http_client=_Http(verify=_tls_context(), timeout=timeout),
    )


def _build(settings: Settings, key: str | None) -> _Entry:
    if settings.llm_base_url:
        client = _client(settings, settings.llm_base_url, key or LOCAL_KEY)
        provider = OpenAIProvider(openai_client=client)
        return _Entry(OpenAIChatModel(settings.model, provider=provider), client)
    if key is None:
        raise ValueError("OpenRouter needs an API key")
    client = _client(settings, settings.openrouter_base_url, key)
    options = OpenRouterModelSettings(openrouter_usage={"include": True})
    if settings.fallback_models:
        options["openrouter_models"] = list(settings.fallback_models)
    model = OpenRouterModel(
        settings.model, provider=OpenRouterProvider(openai_client=client), settings=options
    )
    return _Entry(model, client)


def _digest(settings: Settings, key: str | None) -> str:
    """What makes two models the same, as a digest: the key never appears in the cache."""
    parts = (
        settings.llm_base_url or "", settings.openrouter_base_url, key or "", settings.model,
        *settings.fallback_models, settings.app_url, repr(settings.http_timeout_s),
    )  # fmt: skip
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()


def _loop_models() -> OrderedDict[str, _Entry]:
    global _loop, _models
    loop = asyncio.get_running_loop()
    if _loop is None or _loop() is not loop:
        _loop, _models = weakref.ref(loop), OrderedDict()
    return _models


def _model(settings: Settings, key: str | None) -> Model:
    cache = _loop_models()
    digest = _digest(settings, key)
    if (entry := cache.get(digest)) is None:
        entry = cache[digest] = _build(settings, key)
        while len(cache) > _MAX_MODELS:
            cache.popitem(last=False)  # a turn still using it keeps it alive until done
    else:
        cache.move_to_end(digest)
    return entry.model


@asynccontextmanager
async def open_model(settings: Settings, api_key: SecretStr | None) -> AsyncGenerator[Model]:
    """The configured model for one turn. Raises `ValueError` for OpenRouter without a key."""
    if api_key is not None:
        REDACTOR.register(api_key.get_secret_value())  # e.g. the server-wide fallback key
    yield _model(settings, api_key.get_secret_value() if api_key is not None else None)


async def close_models() -> None:
    """Close the clients this event loop opened (at the app's shutdown)."""
    cache = _loop_models()
    while cache:
        await cache.popitem()[1].client.close()


def response_cost(response: ModelResponse) -> Decimal | None:
    """What a model response cost in USD: OpenRouter's own figure when it sent one, else
    pydantic-ai's price-table estimate, else None (unknown, e.g. a local model)."""
    raw = (response.provider_details or {}).get("cost")
    if isinstance(raw, int | float | str) and not isinstance(raw, bool):
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            value = None
        if value is not None and value.is_finite() and value >= 0:
            return value
    return response.usage.cost
