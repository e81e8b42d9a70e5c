"""OpenRouter: the key's limits and the model catalogue (`https://openrouter.ai/api/v1`).

Chat completions go through pydantic-ai's own OpenRouter model, not through here; this
client covers what KripTik needs around it: validating a key (`GET /key`, free) and
listing models with their context length, per-token prices and tool support.

Errors: `AuthError` (401), `ProviderPermissionError` (403), `RateLimited` (429),
`Upstream` (5xx, timeouts, unreadable bodies); see `tools.clients.errors`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.clients._base import ProviderClient
from tools.clients._messages import ProviderInfo

__all__ = ["OPENROUTER", "OpenRouterClient", "OpenRouterKey", "OpenRouterModel"]

OPENROUTER = ProviderInfo(
    name="OpenRouter",
    keys_url="https://openrouter.ai/settings/keys",
    status_url="https://status.openrouter.ai",
    permission_hint="This call needs a management key, not an inference key.",
)


class OpenRouterKey(BaseModel):
    """What `GET /key` says about the key: its label, spending limit and usage (USD)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    label: str
    limit: float | None = None
    limit_remaining: float | None = None
    limit_reset: str | None = None
    usage: float = 0.0
    is_free_tier: bool = False
    is_management_key: bool = False
    expires_at: str | None = None


class OpenRouterModel(BaseModel):
    """One catalogue entry. Prices are USD per token, as OpenRouter publishes them."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    context_length: int | None
    prompt_price: Decimal = Field(description="USD per prompt token.")
    completion_price: Decimal = Field(description="USD per completion token.")
    supports_tools: bool
    input_modalities: tuple[str, ...] = ()
    hugging_face_id: str | None = None

    @property
    def prompt_per_million(self) -> Decimal:
        """USD per million prompt tokens, the unit people compare."""
        return self.prompt_price * 1_000_000


class _RawModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    context_length: int | None = None
    pricing: dict[str, Any]
    supported_parameters: list[str] = []
    architecture: dict[str, Any] = {}
    hugging_face_id: str | None = None


class _Models(BaseModel):
    data: list[_RawModel]


class _KeyEnvelope(BaseModel):
    data: OpenRouterKey


class OpenRouterClient(ProviderClient):
    """OpenRouter's REST API for one key; `base_url` is e.g. `https://openrouter.ai/api/v1`
    (settings: openrouter_base_url).

    Args: see `ProviderClient`.
    """

    info = OPENROUTER

    async def key(self) -> OpenRouterKey:
        """The key's label, limit and usage; costs nothing and validates the key."""
        return (await self._one(_KeyEnvelope, "GET", "/key", "this key")).data

    async def models(self, *, tools_only: bool = False) -> list[OpenRouterModel]:
        """The model catalogue, optionally only models that support tool calling.

        Args:
            tools_only: Ask OpenRouter for models whose `supported_parameters` has "tools".
        """
        params = {"supported_parameters": "tools"} if tools_only else None
        models = await self._one(_Models, "GET", "/models", "the model list", params=params)
        return [_summarise(m) for m in models.data]


def _price(value: Any) -> Decimal:
    # Prices are decimal strings ("0.000003"); a missing or "-1" (variable) price is unknown.
    try:
        price = Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)
    return price if price >= 0 else Decimal(0)


def _summarise(raw: _RawModel) -> OpenRouterModel:
    modalities: Any = raw.architecture.get("input_modalities") or ()
    return OpenRouterModel(
        id=raw.id,
        name=raw.name,
        context_length=raw.context_length,
        prompt_price=_price(raw.pricing.get("prompt", 0)),
        completion_price=_price(raw.pricing.get("completion", 0)),
        supports_tools="tools" in raw.supported_parameters,
        input_modalities=tuple(str(m) for m in modalities),
        hugging_face_id=raw.hugging_face_id,
    )
