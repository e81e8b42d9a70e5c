"""Choose the chat model: OpenRouter by default, or any OpenAI-compatible server."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.openrouter import OpenRouterModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.providers.openrouter import OpenRouterProvider

from vault import Settings


def build_model(settings: Settings, api_key: SecretStr | None) -> Model | None:
    """The configured model, or None when OpenRouter is used and no key is known."""
    if settings.llm_base_url:
        # Local servers (Ollama, vLLM, LM Studio) usually need no key; send a placeholder
        # rather than letting the SDK fall back on OPENAI_API_KEY from the environment.
        key = api_key.get_secret_value() if api_key else "not-needed"
        provider = OpenAIProvider(base_url=settings.llm_base_url, api_key=key)
        return OpenAIChatModel(settings.model, provider=provider)
    if api_key is None:
        return None
    return OpenRouterModel(
        settings.model,
        provider=OpenRouterProvider(api_key=api_key.get_secret_value(), app_title="KripTik AI"),
    )
