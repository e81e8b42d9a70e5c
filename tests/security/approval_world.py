"""The world the approval-binding tests run in: every provider fake on loopback (RunPod with
worker lives, GitHub, Vercel and Netlify as the web tests extend them), a vault with a user
and all their keys, the real DBOS pipeline launched once for the module, and a user who
answers each card, letting the world move while a card is open.

Nothing leaves the machine: the one HTTP client refuses every host but loopback (so the
deployed app's integration check, which would call `https://<name>.vercel.app`, fails
unsent, as it should here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr

from agent import TurnContext, UIEvent, run_turn
from agent.events import Approval, Final, Question, ToolFinished
from agent.history import SqlConversationStore
from agent.interaction import ApprovalDecision
from agent.llm import ChatModels
from agent.scripted import ScriptedModel, Step
from tests.conftest import new_master_key
from tests.pipeline.fakes import DeployRunPodFake
from tests.pipeline.launched import launched_pipeline
from tests.webapp.fakes import webapp_stack
from tools.approval import Approvals
from tools.clients._http import Retry
from tools.pipeline.handle import PipelineHandle
from tools.pipeline.services import Timings
from tools.publish.service import LivePublishing
from tools.services import LiveServices
from tools.simulator import github, hf_repos, huggingface, netlify, runpod, vercel
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from vault import REDACTOR, Settings, Vault
from vault.deployments import DeploymentCaps, DeploymentStore
from vault.models import new_id

_FAST = Timings(poll_s=0.01, smoke_wait_ms=5000, log_budget_s=2.0)
_KEYS = {
    "runpod": runpod.DEFAULT_KEY, "github": github.DEFAULT_TOKEN, "vercel": vercel.DEFAULT_TOKEN,
    "netlify": netlify.DEFAULT_TOKEN, "huggingface": huggingface.DEFAULT_TOKEN,
}  # fmt: skip
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class LoopbackOnly(httpx.AsyncBaseTransport):
    """The fakes are on loopback; any other host is refused before anything is sent."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in _LOOPBACK:
            raise httpx.ConnectError(f"{request.url.host} is not reachable here", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


Move = Callable[[], Awaitable[None]]


class User:
    """Answers the cards in order (`decisions`; none left: deny). `meanwhile[n]` runs while
    card n is open, before it is answered: the world moving under an open card."""

    def __init__(self, *decisions: bool, meanwhile: dict[int, Move] | None = None) -> None:
        self.decisions, self.meanwhile = list(decisions), meanwhile or {}
        self.cards: list[Approval] = []

    async def ask_secret(self, question: Question) -> SecretStr | None:
        return None  # every key is stored already

    async def ask_approval(self, approval: Approval) -> ApprovalDecision:
        self.cards.append(approval)
        if (move := self.meanwhile.get(len(self.cards) - 1)) is not None:
            await move()
        approved = self.decisions.pop(0) if self.decisions else False
        return ApprovalDecision(approved=approved, by="ann", note=None if approved else "no")


@dataclass
class World:
    settings: Settings
    vault: Vault
    http: httpx.AsyncClient
    stack: FakeStack
    pipeline: PipelineHandle
    user_id: str = ""
    turns: list[list[UIEvent]] = field(default_factory=list[list[UIEvent]])
    history: SqlConversationStore = field(init=False)

    def __post_init__(self) -> None:
        # One history store per world, as the composition root holds one per process.
        self.history = SqlConversationStore(self.vault.sessions)

    async def turn(self, steps: list[Step], user: User) -> list[UIEvent]:
        """One chat turn on a fresh thread: the scripted model plays `steps`."""
        clock = FakeClock()  # the web hosts' READY polls never really sleep
        publishing = LivePublishing(self.vault, self.settings, self.http, sleep=clock.sleep,
                                    retry=Retry(sleep=clock.sleep, clock=clock.now))  # fmt: skip
        ctx = TurnContext(
            settings=self.settings, vault=self.vault, user_id=self.user_id, user_name="ann",
            thread_id=new_id(), interaction=user, model=ScriptedModel(steps).model,
            services=LiveServices(self.vault, self.settings, self.http), publishing=publishing,
            pipeline=self.pipeline, history=self.history,
            models=ChatModels(),  # unused: the turn plays its script
        )  # fmt: skip
        events = [event async for event in run_turn(ctx, "go ahead")]
        final = events[-1]
        assert isinstance(final, Final) and final.status == "done", events[-3:]
        self.turns.append(events)
        return events


def outcomes(events: list[UIEvent]) -> list[tuple[str, str]]:
    return [(e.tool, e.outcome) for e in events if isinstance(e, ToolFinished)]


def finished(events: list[UIEvent], tool: str) -> ToolFinished:
    [done] = [e for e in events if isinstance(e, ToolFinished) and e.tool == tool]
    return done


async def recorded_deployment(w: World) -> str:
    """A ready deployment's record (what the web tools read); returns its endpoint id."""
    store = DeploymentStore(w.vault.sessions)
    view = await store.create(
        w.user_id, caps=DeploymentCaps(max_live=2, max_workers=3, max_gpus=2),
        repo_id="kriptik-test/tiny-llama", revision="a" * 40,
        kind="vllm", name="kriptik-tiny", workers_max=1, usd_per_second=0.00016,
        plan={"worker": {"task": "text-generation"}},
    )  # fmt: skip
    await store.update(view.id, endpoint_id="ep0binding01", state="ready")
    return "ep0binding01"


def endpoint_data(w: World) -> dict[str, Any]:
    """What RunPod holds for the one endpoint created."""
    [endpoint] = w.stack.runpod.state.endpoints.values()
    return endpoint.data


def nothing_spent(w: World) -> None:
    """Nothing reached RunPod that creates (and so bills) anything."""
    for route in ("POST /v2/templates", "POST /v2/serverless", "POST /v2/registries"):
        assert w.stack.runpod.calls_to(route) == [], route


MOVING = "kriptik-test/moving-llama"  # replaced by a 13B model while its card is open


def grow_the_model(w: World) -> Move:
    """The Hub repo MOVING gets a new commit that needs a bigger GPU."""

    async def move() -> None:  # a new commit: a 13B model under the same name
        w.stack.huggingface.add_repo(hf_repos.safetensors_repo(
            MOVING, hidden=5120, layers=40, intermediate=13824, heads=40, kv_heads=40, vocab=32000,
        ))  # fmt: skip

    return move


@dataclass
class BareDeps:
    """What the web tools use of the agent's `Deps`, with no card ever bound."""

    user_id: str
    publishing: LivePublishing
    approvals: Approvals = field(default_factory=Approvals)

    async def progress(
        self, text: str, *, tool_call_id: str | None = None, fraction: float | None = None
    ) -> None:
        return None


@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    fakes = webapp_stack(runpod=DeployRunPodFake())
    fakes.start()
    yield fakes
    fakes.stop()


@pytest.fixture(scope="module")
async def launched(
    stack: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """The vault and the pipeline, once for the module (DBOS is one per process)."""
    root = tmp_path_factory.mktemp("binding")
    # A per-deployment cap that no plan here reaches: these tests bind cards to what runs;
    # budgets have their own (tests/pipeline/test_budget*.py).
    settings = Settings(home=root / "home", database_url=f"sqlite+aiosqlite:///{root / 'k.db'}",
                        master_key=SecretStr(new_master_key()), http_timeout_s=5.0,
                        deployment_cap_usd=1000.0, **stack.settings_fields())  # fmt: skip
    vault = await Vault.open(settings)
    async with httpx.AsyncClient(transport=LoopbackOnly(), trust_env=False) as http:
        try:
            async with launched_pipeline(settings, vault, http, timings=_FAST) as pipe:
                yield World(settings, vault, http, stack, PipelineHandle.of(pipe))
        finally:
            await vault.close()
            REDACTOR.clear()


@pytest.fixture
async def world(launched: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """A new user with every key, on fakes reset for the test; contract-checked after."""
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    launched.stack.reset()
    user = await launched.vault.users.create(f"ann-{new_id()[:8]}", SecretStr("correct horse 1"))
    for provider, key in _KEYS.items():
        await launched.vault.credentials.add(user.id, provider, SecretStr(key))
    launched.user_id, launched.turns = user.id, []
    yield launched
    launched.stack.assert_clean()
