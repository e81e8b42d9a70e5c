"""The chat model: OpenRouter by default, or any OpenAI-compatible server.

- OpenRouter: `OpenRouterModel` with the configured model id, fallbacks sent as
  `models` (`settings.fallback_models`), and usage accounting on, so every response
  carries its real cost in USD (`provider_details['cost']`) and its cached prompt tokens.
- Prompt caching (`settings.llm_prompt_caching`, on by default): every request of a turn
  starts with the same bytes (the tool schemas, then the instructions, whose only
  per-user line comes last), which the providers that cache automatically (OpenAI,
  DeepSeek...) reuse as they are; for those that need breakpoints (Anthropic, Gemini),
  pydantic-ai's `openrouter_cache_*` settings put `cache_control` on the last tool schema,
  the end of the instructions and the last message, so each request reads what the one
  before it wrote. pydantic-ai sends them only to the routes that take them.
- `settings.llm_base_url` set: `OpenAIChatModel` against that server (Ollama, vLLM,
  LM Studio); a key is optional.

A model (and its `AsyncOpenAI` client, with its connection pool) is built once per base
URL, key and model settings, then reused by every turn that asks for the same
(`ChatModels`, one per process, built by the composition root and handed to each turn):
building one costs a TLS context (~30 ms of CPU loading the CA bundle) and a TCP
connection. The cache is keyed by a SHA-256 digest, so no key sits in a dict that could be
printed; one TLS context serves every client it builds; past `_MAX_MODELS` the least
recently used is dropped (and closed once no turn holds it). Each key gets its own client,
so no connection or cookie is shared between users. The SDK retries 429s and 5xx itself,
honouring `Retry-After`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
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
from agent.tool_schemas import CachedToolSchemas
from vault import REDACTOR, Settings

__all__ = [
    "APP_TITLE", "LOCAL_KEY", "ChatModels", "needs_key", "response_cost",
]  # fmt: skip

APP_TITLE = "KripTik AI"
# What a local server gets as its key when none is configured: a placeholder, rather than
# letting the SDK fall back on OPENAI_API_KEY from the environment.
LOCAL_KEY = "not-needed"
# The SDK's own retries (429 and 5xx, with backoff and Retry-After); the turn's request
# limit bounds everything else.
_SDK_RETRIES = 3
_MAX_MODELS = 64  # distinct keys (users) with a warm client
# Cache breakpoints (5-minute TTL, the cheaper write): the tool schemas, the instructions,
# and the conversation so far, which the next request of the turn then reads back.
_CACHE_BREAKPOINTS = OpenRouterModelSettings(
    openrouter_cache_tool_definitions="5m",
    openrouter_cache_instructions="5m",
    openrouter_cache_messages="5m",
)


@dataclass(frozen=True, eq=False)
class _Entry:
    model: Model
    client: AsyncOpenAI

    def __repr__(self) -> str:  # the client holds a key: never print it
        return f"_Entry(model={self.model.model_name!r})"


class _ChatModel(CachedToolSchemas, OpenAIChatModel):
    """A local OpenAI-compatible server's model, its tool schemas customised once."""


class _RouterModel(CachedToolSchemas, OpenRouterModel):
    """OpenRouter's model, its tool schemas customised once."""


def needs_key(settings: Settings) -> bool:
    """OpenRouter needs a key; a local OpenAI-compatible server usually does not."""
    return not settings.llm_base_url


class _Http(DefaultAsyncHttpxClient):
    """The SDK's default HTTP client, closed when dropped (as the SDK's own is)."""

    def __del__(self) -> None:
        if self.is_closed:
            return
        try:
            asyncio.get_running_loop().create_task(self.aclose())
        except RuntimeError:  # no loop running: the process is ending
            pass


def _client(settings: Settings, base_url: str, key: str, tls: ssl.SSLContext) -> AsyncOpenAI:
    timeout = max(settings.http_timeout_s, 120.0)  # a long answer streams for a while
    return ChatClient(
        base_url=base_url,
        api_key=key,
        max_retries=_SDK_RETRIES,
        timeout=timeout,
        default_headers={"HTTP-Referer": settings.app_url, "X-Title": APP_TITLE},
        http_client=_Http(verify=tls, timeout=timeout),
    )


def _build(settings: Settings, key: str | None, tls: ssl.SSLContext) -> _Entry:
    if settings.llm_base_url:
        client = _client(settings, settings.llm_base_url, key or LOCAL_KEY, tls)
        provider = OpenAIProvider(openai_client=client)
        return _Entry(_ChatModel(settings.model, provider=provider), client)
    if key is None:
        raise ValueError("OpenRouter needs an API key")
    client = _client(settings, settings.openrouter_base_url, key, tls)
    options = OpenRouterModelSettings(openrouter_usage={"include": True})
    if settings.llm_prompt_caching:
        options |= _CACHE_BREAKPOINTS
    if settings.fallback_models:
        options["openrouter_models"] = list(settings.fallback_models)
    model = _RouterModel(
        settings.model, provider=OpenRouterProvider(openai_client=client), settings=options
    )
    return _Entry(model, client)


def _digest(settings: Settings, key: str | None) -> str:
    """What makes two models the same, as a digest: the key never appears in the cache."""
    parts = (
        settings.llm_base_url or "", settings.openrouter_base_url, key or "", settings.model,
        *settings.fallback_models, settings.app_url, repr(settings.http_timeout_s),
        repr(settings.llm_prompt_caching),
    )  # fmt: skip
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()


class ChatModels:
    """The chat models of one process, one per base URL, key and model settings, each with
    its client and connection pool. Built once by the composition root (`ui.root`) and
    handed to every turn; `close` closes the clients, on the event loop they were used on."""

    def __init__(self) -> None:
        self._models: OrderedDict[str, _Entry] = OrderedDict()
        self._tls: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext:
        """One TLS context for every client, as the SDK makes it (the system's CA bundle)."""
        if self._tls is None:
            self._tls = httpx2.create_ssl_context()
        return self._tls

    def _model(self, settings: Settings, key: str | None) -> Model:
        digest = _digest(settings, key)
        if (entry := self._models.get(digest)) is None:
            entry = self._models[digest] = _build(settings, key, self._tls_context())
            while len(self._models) > _MAX_MODELS:
                self._models.popitem(last=False)  # a turn still using it keeps it alive
        else:
            self._models.move_to_end(digest)
        return entry.model

    @asynccontextmanager
    async def open(self, settings: Settings, api_key: SecretStr | None) -> AsyncGenerator[Model]:
        """The configured model for one turn. Raises `ValueError` for OpenRouter without
        a key."""
        if api_key is not None:
            REDACTOR.register(api_key.get_secret_value())  # e.g. the server-wide fallback key
        yield self._model(settings, api_key.get_secret_value() if api_key is not None else None)

    async def close(self) -> None:
        """Close every client this cache opened (at the app's shutdown)."""
        while self._models:
            await self._models.popitem()[1].client.close()

    def __repr__(self) -> str:
        return f"ChatModels({len(self._models)} models)"


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
