"""The chat model: OpenRouter by default, or any OpenAI-compatible server.

- OpenRouter: `OpenRouterModel` with the configured model id, fallbacks sent as
  `models` (`settings.fallback_models`), and usage accounting on, so every response
  carries its real cost in USD (`provider_details['cost']`).
- `settings.llm_base_url` set: `OpenAIChatModel` against that server (Ollama, vLLM,
  LM Studio); a key is optional.

Each turn opens its own `AsyncOpenAI` client (the key is per user) and closes it after.
The SDK retries 429s and 5xx itself, honouring `Retry-After`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation

from openai import AsyncOpenAI
from pydantic import SecretStr
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.openrouter import OpenRouterModel, OpenRouterModelSettings
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.providers.openrouter import OpenRouterProvider

from vault import REDACTOR, Settings

__all__ = ["APP_TITLE", "needs_key", "open_model", "response_cost"]

APP_TITLE = "KripTik AI"
# The SDK's own retries (429 and 5xx, with backoff and Retry-After); the turn's request
# limit bounds everything else.
_SDK_RETRIES = 3


def needs_key(settings: Settings) -> bool:
    """OpenRouter needs a key; a local OpenAI-compatible server usually does not."""
    return not settings.llm_base_url


def _client(settings: Settings, base_url: str, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=base_url,
        api_key=key,
        max_retries=_SDK_RETRIES,
        timeout=max(settings.http_timeout_s, 120.0),  # a long answer streams for a while
        default_headers={"HTTP-Referer": settings.app_url, "X-Title": APP_TITLE},
    )


@asynccontextmanager
async def open_model(settings: Settings, api_key: SecretStr | None) -> AsyncGenerator[Model]:
    """The configured model for one turn. Raises `ValueError` for OpenRouter without a key."""
    if api_key is not None:
        REDACTOR.register(api_key.get_secret_value())  # e.g. the server-wide fallback key
    if settings.llm_base_url:
        # Local servers usually need no key; send a placeholder rather than letting the
        # SDK fall back on OPENAI_API_KEY from the environment.
        key = api_key.get_secret_value() if api_key else "not-needed"
        client = _client(settings, settings.llm_base_url, key)
        provider = OpenAIProvider(openai_client=client)
        model: Model = OpenAIChatModel(settings.model, provider=provider)
    else:
        if api_key is None:
            raise ValueError("OpenRouter needs an API key")
        client = _client(settings, settings.openrouter_base_url, api_key.get_secret_value())
        options = OpenRouterModelSettings(openrouter_usage={"include": True})
        if settings.fallback_models:
            options["openrouter_models"] = list(settings.fallback_models)
        model = OpenRouterModel(
            settings.model, provider=OpenRouterProvider(openai_client=client), settings=options
        )
    try:
        yield model
    finally:
        await client.close()


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
