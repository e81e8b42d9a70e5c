"""Fixtures for the agent tests.

- `fake_stack` (session) / `fakes` (per test): every provider fake on 127.0.0.1, reset
  before each test, and failing the test on any contract violation after it.
- `agent_settings` / `agent_vault` / `user`: a SQLite vault whose provider URLs point at
  the fakes (agent flows do not depend on the database backend; the storage tests use
  the SQLite+PostgreSQL `vault` fixture instead).
- `turn(...)`: run one chat turn and collect its events.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr

import tools.credentials
from agent import TurnContext, UIEvent, run_turn
from agent.events import Final
from agent.history import SqlConversationStore
from agent.interaction import Interaction
from agent.llm import ChatModels
from agent.scripted import ScriptedInteraction, ScriptedModel, Step
from tests.conftest import new_master_key
from tools.publish.service import LivePublishing
from tools.services import LiveServices
from tools.simulator.all import FakeStack
from vault import REDACTOR, Settings, UserView, Vault


@pytest.fixture(scope="session")
def fake_stack() -> Iterator[FakeStack]:
    stack = FakeStack().start()
    yield stack
    stack.stop()


@pytest.fixture
def fakes(fake_stack: FakeStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    # A person re-entering a key is not a flood of checks; the flows do it within a second.
    monkeypatch.setattr(tools.credentials, "MIN_CHECK_INTERVAL_S", 0.0)
    fake_stack.reset()
    yield fake_stack
    fake_stack.assert_clean()


@dataclass(frozen=True)
class _Template:
    master_key: str
    database: Path
    user: UserView


@pytest.fixture(scope="session")
async def _template(tmp_path_factory: pytest.TempPathFactory) -> _Template:
    """One migrated database with one user, copied for each test: migrations and the
    password hash are the slow part of setting up a vault."""
    root = tmp_path_factory.mktemp("agent-template")
    master = new_master_key()
    settings = Settings(home=root / "home", database_url=f"sqlite+aiosqlite:///{root / 'agent.db'}",
                        master_key=SecretStr(master))  # fmt: skip
    vault = await Vault.open(settings)
    try:
        user = await vault.users.create("ann", SecretStr("correct horse battery staple"))
    finally:
        await vault.close()
    return _Template(master, root / "agent.db", user)


@pytest.fixture
def agent_settings(tmp_path: Path, fakes: FakeStack, _template: _Template) -> Settings:
    database = tmp_path / "agent.db"
    shutil.copyfile(_template.database, database)
    database.chmod(0o600)  # a copy gets 0644 minus the umask; the vault refuses that
    return Settings(
        home=tmp_path / "home",
        database_url=f"sqlite+aiosqlite:///{database}",
        master_key=SecretStr(_template.master_key),
        http_timeout_s=5.0,
        **fakes.settings_fields(),
    )


@pytest.fixture
async def agent_vault(agent_settings: Settings) -> AsyncIterator[Vault]:
    opened = await Vault.open(agent_settings)
    yield opened
    await opened.close()
    REDACTOR.clear()


@pytest.fixture
def user(agent_vault: Vault, _template: _Template) -> UserView:
    return _template.user


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@dataclass
class Turn:
    """One chat turn's events, with helpers to look at them."""

    events: list[UIEvent] = field(default_factory=list[UIEvent])

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def final(self) -> Final:
        last = self.events[-1]
        assert isinstance(last, Final), self.events
        return last


@dataclass
class Chat:
    """Runs turns for one user and thread against a scripted model."""

    settings: Settings
    vault: Vault
    user: UserView
    http: httpx.AsyncClient
    model: ScriptedModel
    interaction: Interaction
    thread_id: str = "thread-1"
    history: SqlConversationStore = field(init=False)

    def __post_init__(self) -> None:
        # One history store per chat, as the composition root holds one per process.
        self.history = SqlConversationStore(self.vault.sessions)

    def context(self) -> TurnContext:
        return TurnContext(
            settings=self.settings, vault=self.vault, user_id=self.user.id,
            user_name=self.user.name, thread_id=self.thread_id, interaction=self.interaction,
            model=self.model.model, services=LiveServices(self.vault, self.settings, self.http),
            publishing=LivePublishing(self.vault, self.settings, self.http),
            models=ChatModels(), history=self.history,  # models: unused, the turn plays `model`
        )  # fmt: skip

    async def turn(self, text: str) -> Turn:
        result = Turn()
        async for event in run_turn(self.context(), text):
            result.events.append(event)
        return result


@pytest.fixture
def chat(
    agent_settings: Settings, agent_vault: Vault, user: UserView, http: httpx.AsyncClient
) -> Any:
    def make(
        steps: list[Step],
        *,
        secrets: list[str | None] | None = None,
        approvals: list[bool] | None = None,
        interaction: Interaction | None = None,
    ) -> Chat:
        answers = interaction or ScriptedInteraction(
            secrets=secrets or [], approvals=approvals or [], who=user.name
        )
        return Chat(agent_settings, agent_vault, user, http, ScriptedModel(steps), answers)

    return make
