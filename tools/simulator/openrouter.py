"""OpenRouter fake: `GET /api/v1/key` and `GET /api/v1/models`, checked against
`openrouter.subset.openapi.json` (server `https://openrouter.ai/api/v1`), and the PKCE key
exchange (`openrouter_oauth`: `GET /auth`, `POST /api/v1/auth/keys`, checked too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tools.simulator._base import FakeProvider, FakeRequest, bearer, json_response, route
from tools.simulator._contract import OpenApiContract
from tools.simulator._oauth import OAuthServer
from tools.simulator.openrouter_oauth import OAUTH_PATHS, OpenRouterOAuthRoutes

DEFAULT_KEY = "sk-or-v1-fake-0000000000000000000000000000000000000000000000000000000000000000"


@dataclass
class OpenRouterAccount:
    """The account behind a key, and the key's limits (USD)."""

    label: str = "sk-or-v1-fak...000"
    limit: float | None = 25.0
    usage: float = 4.5
    is_free_tier: bool = False


def _model(
    mid: str, name: str, ctx: int, prompt: str, completion: str, params: list[str],
    cache: tuple[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    # `cache`: the prices of a cache read and a cache write, for models that cache prompts.
    pricing = {"prompt": prompt, "completion": completion, "request": "0", "image": "0"}
    if cache is not None:
        pricing |= {"input_cache_read": cache[0], "input_cache_write": cache[1]}
    return {
        "id": mid,
        "canonical_slug": mid,
        "name": name,
        "created": 1735689600,
        "description": f"{name} (simulated catalogue entry)",
        "context_length": ctx,
        "architecture": {
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "modality": "text->text",
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": pricing,
        "top_provider": {
            "context_length": ctx,
            "max_completion_tokens": 8192,
            "is_moderated": False,
        },
        "per_request_limits": None,
        "supported_parameters": params,
        "default_parameters": None,
        "supported_voices": None,
        "hugging_face_id": None,
        "expiration_date": None,
        "knowledge_cutoff": None,
        "links": {"details": f"/api/v1/models/{mid}/endpoints"},
    }


DEFAULT_MODELS = [
    _model("anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", 1_000_000, "0.000003", "0.000015",
           ["tools", "tool_choice", "max_tokens", "temperature"], ("0.0000003", "0.00000375")),
    _model("openai/gpt-4o-mini", "GPT-4o mini", 128_000, "0.00000015", "0.0000006",
           ["tools", "tool_choice", "response_format", "max_tokens"], ("0.000000075", "0")),
    _model("meta-llama/llama-3.1-8b-instruct", "Llama 3.1 8B Instruct", 131_072, "0.00000002",
           "0.00000005", ["max_tokens", "temperature", "top_p"]),
]  # fmt: skip


@dataclass
class _State:
    accounts: dict[str, OpenRouterAccount] = field(default_factory=dict[str, OpenRouterAccount])
    models: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])


class OpenRouterErrors(FakeProvider):
    """A fake that words its errors as OpenRouter does, on every route under
    `openrouter.ai/api/v1`: this REST fake and the chat-completions fake in `llm`."""

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        return json_response({"error": {"code": status, "message": message}}, status, headers)


class OpenRouterFake(OpenRouterErrors, OpenRouterOAuthRoutes):
    """Stateful OpenRouter: keys with limits, a model catalogue, and the PKCE key exchange
    (knobs `oauth`, `new_key_limit`)."""

    name = "OpenRouter"

    def __init__(self) -> None:
        super().__init__(
            OpenApiContract("openrouter.subset.openapi.json", host_url="https://openrouter.ai")
        )
        self.state = _State()
        self.oauth = OAuthServer()
        self.reset_state()

    def reset_state(self) -> None:
        self.state = _State({DEFAULT_KEY: OpenRouterAccount()}, [dict(m) for m in DEFAULT_MODELS])
        self.oauth.reset()
        self.new_key_limit: float | None = 10.0

    def new_key_account(self, key: str, limit: float | None) -> OpenRouterAccount:
        """A key made by the PKCE exchange: the person's chosen limit, nothing used yet."""
        return self.add_key(
            key, OpenRouterAccount(label=f"{key[:11]}...{key[-3:]}", limit=limit, usage=0.0)
        )

    def add_key(self, key: str, account: OpenRouterAccount | None = None) -> OpenRouterAccount:
        self.state.accounts[key] = account or OpenRouterAccount()
        return self.state.accounts[key]

    def authenticate(self, request: Request) -> OpenRouterAccount | None:
        if request.url.path in OAUTH_PATHS:
            return OpenRouterAccount()  # the PKCE routes need no key: the code is the proof
        return self.state.accounts.get(bearer(request) or "")

    @route("GET", "/api/v1/key")
    async def key(self, req: FakeRequest) -> Response:
        acct: OpenRouterAccount = req.account
        remaining = None if acct.limit is None else max(0.0, acct.limit - acct.usage)
        usage = {f"usage{s}": acct.usage for s in ("", "_daily", "_weekly", "_monthly")}
        byok = {f"byok_usage{s}": 0.0 for s in ("", "_daily", "_weekly", "_monthly")}
        return json_response({"data": {
            "label": acct.label, "limit": acct.limit, "limit_remaining": remaining,
            "limit_reset": "monthly" if acct.limit is not None else None, **usage, **byok,
            "is_free_tier": acct.is_free_tier, "is_management_key": False,
            "is_provisioning_key": False, "include_byok_in_limit": False,
            "creator_user_id": "user_fake", "expires_at": None,
            "rate_limit": {"requests": -1, "interval": "10s", "note": "deprecated"},
        }})  # fmt: skip

    @route("GET", "/api/v1/models")
    async def models(self, req: FakeRequest) -> Response:
        wanted = [p for p in req.query.get("supported_parameters", "").split(",") if p]
        data = [m for m in self.state.models if all(p in m["supported_parameters"] for p in wanted)]
        return json_response({"data": data, "total_count": len(data), "links": {"next": None}})
