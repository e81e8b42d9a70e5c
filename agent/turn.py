"""One chat turn: text in, a stream of UI events out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr
from pydantic_ai import Agent
from pydantic_ai.messages import PartDeltaEvent, PartStartEvent, TextPart, TextPartDelta

from agent.events import Final, Notice, TextDelta, UIEvent
from agent.llm import build_model
from agent.prompts import render_prompt
from vault import CredentialNotFound, Settings, Vault

NO_KEY = (
    "To chat I need an OpenRouter API key. Create one at https://openrouter.ai/settings/keys, "
    "then add it with `kriptik keys add openrouter` (or set KRIPTIK_LLM_BASE_URL to a local "
    "OpenAI-compatible server such as Ollama)."
)


@dataclass(frozen=True)
class TurnContext:
    settings: Settings
    vault: Vault
    user_id: str
    user_name: str


async def _openrouter_key(ctx: TurnContext) -> SecretStr | None:
    try:
        return await ctx.vault.credentials.get(ctx.user_id, "openrouter")
    except CredentialNotFound:
        return ctx.settings.openrouter_api_key


async def run_turn(ctx: TurnContext, text: str) -> AsyncIterator[UIEvent]:
    model = build_model(ctx.settings, await _openrouter_key(ctx))
    if model is None:
        yield Notice(text=NO_KEY)
        return
    instructions = render_prompt(
        "system", user_name=ctx.user_name, today=datetime.now(UTC).date().isoformat()
    )
    agent = Agent(model, instructions=instructions)
    chunks: list[str] = []
    async with agent.run_stream_events(text) as events:
        async for event in events:
            delta = None
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                delta = event.part.content
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                delta = event.delta.content_delta
            if delta:
                chunks.append(delta)
                yield TextDelta(text=delta)
    yield Final(text="".join(chunks))
