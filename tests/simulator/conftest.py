"""Fixtures for the demo stack's tests: one `DemoStack` served for the module, and a
world per test (a fresh vault, the pipeline launched as the chat app launches it) in which
the REAL agent chats with the simulated assistant over HTTP, through the product's own
model path (Settings -> `ChatModels.open` -> `OpenRouterModel` -> the `openai` SDK).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr
from pydantic_ai.models import override_allow_model_requests

import tools.credentials
from agent import TurnContext, UIEvent, run_turn
from agent.events import Approval, Final, Question, ToolFinished, ToolStarted
from agent.history import SqlConversationStore
from agent.llm import ChatModels
from agent.scripted import ScriptedInteraction
from tests.conftest import new_master_key
from tests.pipeline.launched import launched_pipeline
from tools.metrics import Metrics
from tools.pipeline.handle import PipelineHandle
from tools.pipeline.services import Timings
from tools.publish.service import LivePublishing
from tools.services import LiveServices
from tools.simulator.demo import DemoStack
from tools.tracing import Tracing
from vault import REDACTOR, Settings, Vault

# The pipeline's polls, fast: the RunPod fake's workers come up after two of them.
_FAST = Timings(poll_s=0.01, smoke_wait_ms=5000, log_budget_s=2.0)


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoStack]:
    stack = DemoStack().start()
    yield stack
    stack.stop()


@dataclass
class Turn:
    """One chat turn: its events, and what the interaction was asked."""

    events: list[UIEvent]
    answers: ScriptedInteraction

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def final(self) -> Final:
        last = self.events[-1]
        assert isinstance(last, Final), self.events[-3:]
        return last

    @property
    def tools(self) -> list[tuple[str, str]]:
        """(tool, outcome) of every finished call, in order."""
        return [(e.tool, e.outcome) for e in self.of(ToolFinished)]

    def transcript(self) -> str:
        """The turn as a person would read it: the text, tool calls, questions, approvals."""
        lines: list[str] = []
        for e in self.events:
            match e:
                case ToolStarted():
                    lines.append(f"  -> {e.tool}({e.args})")
                case ToolFinished():
                    lines.append(f"  <- {e.tool}: {e.outcome}")
                case Question():
                    lines.append(f"  [key question: {e.provider}: {e.reason}]")
                case Approval():
                    lines.append(f"  [approval card: {e.summary} | {e.price}]")
                case Final():
                    lines.append(f"FINAL ({e.status}):\n{e.text}")
                case _:
                    pass
        return "\n".join(lines)


@dataclass
class World:
    demo: DemoStack
    settings: Settings
    vault: Vault
    http: httpx.AsyncClient
    user_id: str
    pipeline: PipelineHandle
    models: ChatModels = field(default_factory=ChatModels)  # closed with the world
    metrics: Metrics = field(default_factory=Metrics)  # every turn's, as the root's is
    tracing: Tracing = field(default_factory=Tracing.off)  # the pipeline's too (`tracing`)
    history: SqlConversationStore = field(init=False)

    def __post_init__(self) -> None:
        # One history store per world, as the composition root holds one per process.
        self.history = SqlConversationStore(self.vault.sessions)

    async def turn(
        self, text: str, *, secrets: Sequence[str | None] = (), approvals: Sequence[bool] = (),
        thread: str = "demo-thread", user_id: str | None = None,
    ) -> Turn:  # fmt: skip
        answers = ScriptedInteraction(secrets=secrets, approvals=approvals, who="ann")
        ctx = TurnContext(settings=self.settings, vault=self.vault, user_id=user_id or self.user_id,
                          user_name="ann", thread_id=thread, interaction=answers,
                          services=LiveServices(self.vault, self.settings, self.http,
                                                metrics=self.metrics),
                          publishing=LivePublishing(self.vault, self.settings, self.http),
                          pipeline=self.pipeline, models=self.models,
                          history=self.history, metrics=self.metrics,
                          tracing=self.tracing)  # fmt: skip
        # The real chat model on the wire: only ever to the loopback assistant.
        with override_allow_model_requests(True):
            events = [event async for event in run_turn(ctx, text)]
        return Turn(events, answers)


class LoopbackOnly(httpx.AsyncBaseTransport):
    """The world's HTTP client reaches 127.0.0.1 only: anything else (a deployed app's
    public URL) fails at once, as an unreachable host does, and no packet leaves."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in {"127.0.0.1", "localhost"}:
            raise httpx.ConnectError(f"{request.url.host} is not reachable from the tests")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def tracing() -> Tracing:
    """The world's traces, for its turns and its pipeline: off, unless a test module
    overrides this fixture (tests/simulator/test_traces_after_deploy.py)."""
    return Tracing.off()


@pytest.fixture
async def world(
    demo: DemoStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracing: Tracing
) -> AsyncIterator[World]:
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(tools.credentials, "MIN_CHECK_INTERVAL_S", 0.0)
    demo.reset()
    settings = Settings(home=tmp_path / "home", database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
                        master_key=SecretStr(new_master_key()), http_timeout_s=5.0,
                        **demo.settings_fields())  # fmt: skip
    vault = await Vault.open(settings)
    user = await vault.users.create("ann", SecretStr("correct horse battery staple"))
    async with httpx.AsyncClient(transport=LoopbackOnly(), trust_env=False) as http:
        # The pipeline as the chat app launches it (ui/root.py), on the same client.
        try:
            launching = launched_pipeline(settings, vault, http, timings=_FAST, tracing=tracing)
            async with launching as pipe:
                world = World(demo, settings, vault, http, user.id, PipelineHandle.of(pipe),
                              tracing=tracing)  # fmt: skip
                try:
                    yield world
                finally:
                    await world.models.close()
        finally:
            await vault.close()
            REDACTOR.clear()
    demo.providers.assert_clean()
    demo.llm.assert_clean()
