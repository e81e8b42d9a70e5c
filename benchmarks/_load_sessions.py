"""What each of the load test's chat sessions does, as a person at a browser would, and
what it records: every turn (where, when, how it ended), each move to the surviving
instance after the kill (did the resumed thread hold the earlier messages), and, for the
sessions that deploy, whether they saw their deployment reach ready.

Two kinds of session:
- a chat session asks about a model's size and price, then follow-up questions (the
  simulated assistant inspects, sizes and prices the model, then answers from the
  conversation);
- a deploying session asks for the model as an API and approves the card (it declines
  the key question for a web app that follows, having no GitHub key); the endpoint's
  workers are held starting until the kill, so the deployment is in flight then. It then
  waits for its Progress panel to reach "done", opens /deployments, and asks for the status.

A session whose server dies logs in to the other instance and reopens its thread there.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Literal

from benchmarks._client import Outcome, Session
from benchmarks._load_cluster import PASSWORD, Instance

MODEL = "kriptik-test/tiny-llama"
DEPLOY = f"Deploy {MODEL} as an API I can call."
STATUS = "What is the status of my deployment?"
CHAT_WITHIN_S = 180.0
DEPLOY_WITHIN_S = 900.0  # the deploy turn lasts until the endpoint is ready
FOLLOW_WITHIN_S = 300.0  # from the end of that turn (or the move) to the panel's "done"
Kind = Literal["chat", "deploy", "command"]


def chat_text(n: int) -> str:
    if n == 0:
        return f"How much GPU memory does {MODEL} need, and what would it cost?"
    return f"Thanks. Follow-up {n}: what would it cost per hour on that GPU?"


@dataclass(frozen=True)
class Turn:
    user: str
    instance: str  # the instance's name ("A", "B")
    kind: Kind
    started: float  # perf_counter
    ended: float
    problem: str | None
    lost: bool  # the connection closed mid-turn

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Move:
    """A session's reconnect to the survivor: log in there, reopen the thread."""

    user: str
    seconds: float
    resumed: bool  # the survivor sent the thread back
    missing: tuple[str, ...]  # earlier messages the resumed thread did not hold
    problem: str | None = None


@dataclass
class Followed:
    """What a deploying session saw of its deployment."""

    user: str
    home: str
    deployment_id: str | None = None
    panel_done: bool = False
    listed_ready: bool = False
    status_reply: str = ""
    problem: str | None = None


class Timeline:
    """The run's halfway mark: half the chat turns done (or every chat session at its
    halfway gate, or stopped), and every deployment waiting for its workers (or its
    session stopped). The kill happens there; chat sessions gate at their half until it
    has."""

    def __init__(self, *, half: int, chatters: int, deployers: int) -> None:
        self.half, self.chatters, self.deployers = half, chatters, deployers
        self.chat_done = self.parked = self.waiting = 0
        self.killed_at: float | None = None
        self.killed = asyncio.Event()
        self._changed = asyncio.Condition()

    async def count(self, *, chat: int = 0, parked: int = 0, waiting: int = 0) -> None:
        async with self._changed:
            self.chat_done += chat
            self.parked += parked
            self.waiting += waiting
            self._changed.notify_all()

    def _reached(self) -> bool:
        chats = self.chat_done >= self.half or self.parked >= self.chatters
        return chats and self.waiting >= self.deployers

    async def halfway(self) -> None:
        async with self._changed:
            await self._changed.wait_for(self._reached)


@dataclass
class Player:
    """One session's script."""

    user: str
    home: Instance
    survivor: Instance
    victim: str  # the name of the instance that will be killed
    deploys: bool
    messages: int
    timeline: Timeline
    connect_gate: asyncio.Semaphore
    turns: list[Turn] = field(default_factory=list[Turn])
    moves: list[Move] = field(default_factory=list[Move])
    followed: Followed | None = None
    problem: str | None = None  # what stopped the session early
    _said: list[str] = field(default_factory=list[str])  # messages whose turn ended well
    _counted: bool = False  # told the timeline it is at its halfway point (or stopped)

    def __post_init__(self) -> None:
        self.client = Session(self.home.url, self.user, PASSWORD)
        self.instance = self.home

    async def run(self) -> None:
        try:
            async with self.connect_gate:
                await self.client.connect(chat_start=True, within_s=CHAT_WITHIN_S)
            if self.deploys:
                await self._deploying()
            else:
                await self._chatting()
        except Exception as err:  # recorded and reported: one session must not end the run
            ours = [f.name for f in traceback.extract_tb(err.__traceback__)
                    if "benchmarks" in f.filename]  # fmt: skip
            where = " < ".join(reversed(ours[-3:]))
            self.problem = f"{type(err).__name__} in {where}: {err}"[:300]
        finally:
            await self._halfway()  # a session that stopped early must not hold the kill up
            if self.client.connected:
                await self.client.close()

    # ---- chat sessions -----------------------------------------------------------------
    async def _chatting(self) -> None:
        gate = self.messages // 2 + 1
        for n in range(self.messages):
            if n == gate:
                await self._after_the_kill()
            if not self.client.connected:
                await self._move()
            outcome = await self._turn(chat_text(n), "chat", CHAT_WITHIN_S)
            if outcome.problem is None and self.timeline.killed_at is None:
                await self.timeline.count(chat=1)
            if outcome.lost:
                await self._move()

    async def _halfway(self) -> None:
        if not self._counted:
            self._counted = True
            if self.deploys:
                await self.timeline.count(waiting=1)
            else:
                await self.timeline.count(parked=1)

    async def _after_the_kill(self) -> None:
        """Wait for the kill; a session of the killed instance also waits until its
        socket has noticed (so its next message is not sent into a dead connection)."""
        await self._halfway()
        await self.timeline.killed.wait()
        if self.instance.name == self.victim:
            await self.client.wait_until(lambda: not self.client.connected, within_s=60)

    # ---- deploying sessions ------------------------------------------------------------
    async def _deploying(self) -> None:
        self.followed = Followed(self.user, self.home.name)
        self.client.answers = True  # approve the deploy card; decline the key question
        outcome, _ = await asyncio.gather(
            self._turn(DEPLOY, "deploy", DEPLOY_WITHIN_S), self._waiting()
        )
        self.client.answers = False  # any other card would be unexpected: a failed turn
        if outcome.lost or not self.client.connected:
            await self._move()
        await self._follow(self.followed)

    async def _waiting(self) -> None:
        """Count this session's deployment once its workers are starting (the endpoint
        exists): from then on it is in flight."""
        try:
            await self.client.wait_until(lambda: _waiting(self.client), within_s=DEPLOY_WITHIN_S)
        finally:
            await self._halfway()  # counted even if it never got there

    async def _follow(self, followed: Followed) -> None:
        ids = list(self.client.progress)
        followed.deployment_id = ids[0] if len(ids) == 1 else None
        if followed.deployment_id is None:
            followed.problem = f"expected one Progress panel, saw {len(ids)}"
            return
        done = lambda: _status(self.client, followed.deployment_id) in ("done", "failed")  # noqa: E731
        try:
            await self.client.wait_until(done, within_s=FOLLOW_WITHIN_S)
        except TimeoutError:
            followed.problem = "the Progress panel did not finish"
        followed.panel_done = _status(self.client, followed.deployment_id) == "done"
        await self._turn("/deployments", "command", CHAT_WITHIN_S)
        rows = self.client.elements.get("DeploymentsPanel", {}).get("deployments") or []
        followed.listed_ready = any(
            r.get("id") == followed.deployment_id and r.get("state") == "ready" for r in rows
        )
        await self._turn(STATUS, "chat", CHAT_WITHIN_S)
        followed.status_reply = self.client.last_reply

    # ---- shared ------------------------------------------------------------------------
    async def _turn(self, text: str, kind: Kind, within_s: float) -> Outcome:
        where, started = self.instance.name, time.perf_counter()
        outcome = await self.client.ask(text, within_s=within_s)
        self.turns.append(Turn(self.user, where, kind, started, time.perf_counter(),
                               outcome.problem, outcome.lost))  # fmt: skip
        if outcome.problem is None or (kind == "deploy" and not outcome.lost):
            self._said.append(text)
        if outcome.problem and outcome.problem.startswith("no end within"):
            raise RuntimeError(f"a {kind} turn did not end within {within_s:g} s")
        return outcome

    async def _move(self) -> None:
        """Log in to the survivor and reopen the thread; check its earlier messages."""
        expected = list(self._said)
        if self.deploys and DEPLOY not in expected:
            expected.append(DEPLOY)  # its deployment exists, so its message must too
        started, had_thread = time.perf_counter(), self.client.thread_id is not None
        self.instance = self.survivor
        try:
            await self.client.move_to(self.survivor.url, within_s=CHAT_WITHIN_S)
        except Exception as err:
            why = f"{type(err).__name__}: {err}"[:200]
            took = time.perf_counter() - started
            self.moves.append(Move(self.user, took, False, tuple(expected), why))
            raise
        resumed = self.client.resumed or {}
        seen = self.client.resumed_messages()
        missing = tuple(m for m in expected if m not in seen)
        problem = str(resumed["error"]) if "error" in resumed else None
        if had_thread and self.client.resumed is None:
            problem = "the thread was not sent back"
        self.moves.append(Move(self.user, time.perf_counter() - started,
                               problem is None, missing, problem))  # fmt: skip


def _status(client: Session, deployment_id: str | None) -> str | None:
    props = client.progress.get(deployment_id or "")
    return str(props.get("status")) if props else None


def _waiting(client: Session) -> bool:
    for props in client.progress.values():
        stages: list[dict[str, Any]] = props.get("stages") or []
        if any(s.get("key") == "waiting" and s.get("state") in ("running", "done") for s in stages):
            return True
    return False
