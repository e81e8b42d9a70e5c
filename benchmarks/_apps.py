"""The servers the chat benchmarks compare: `kriptik serve` against the loopback LLM fake
(which answers at once), and a bare Chainlit echo app; plus a socket client that times a
message from send to the end of its run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agent.llm import LOCAL_KEY
from benchmarks._client import Session
from tests.services.kriptik import PROJECT_ROOT, Server, free_port, serve
from tools.simulator.llm import LlmFake
from tools.simulator.server import ServedApp

ECHO_APP = Path(__file__).resolve().parent / "echo_app.py"
MINIMAL_APP = Path(__file__).resolve().parent / "minimal_app.py"


@dataclass
class App:
    name: str
    url: str
    pid: int
    username: str
    password: str
    chat_start: bool  # whether the app has an `on_chat_start` run to wait for on connecting


def wait_healthy(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    """Seconds from `started` until /health answers 200 (polling the server's own state)."""
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)


@contextmanager
def echo_app(home: Path) -> Iterator[tuple[App, float]]:
    """The bare Chainlit app on a free port; yields it and its cold start in seconds."""
    with chainlit_app(home, ECHO_APP, "bare Chainlit echo") as started:
        yield started


@contextmanager
def minimal_agent_app(home: Path, llm_url: str) -> Iterator[tuple[App, float]]:
    """The minimal pydantic-ai Chainlit app whose model is the loopback fake at `llm_url`."""
    model = {"BENCH_LLM_BASE_URL": f"{llm_url}/v1", "BENCH_LLM_KEY": LOCAL_KEY}
    with chainlit_app(home, MINIMAL_APP, "minimal pydantic-ai app", model) as started:
        yield started


@contextmanager
def chainlit_app(
    home: Path, script: Path, name: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[App, float]]:
    """A baseline Chainlit app on a free port; yields it and its cold start in seconds."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRIPTIK_", "CHAINLIT_"))}
    env |= {"CHAINLIT_AUTH_SECRET": "benchmark-" + "x" * 40, "PYTHONUNBUFFERED": "1"}
    env |= extra_env or {}
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our modules
        [sys.executable, "-m", "chainlit", "run", str(script), "--headless", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        cold = wait_healthy(url, process, started)
        yield App(name, url, process.pid, "bench", "any-password-1", False), cold
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def kriptik_app(home: Path) -> Iterator[tuple[App, LlmFake]]:
    """`kriptik serve` whose model is the loopback fake, answering every request at once."""
    llm = LlmFake(keys={LOCAL_KEY})  # a local server: it takes the placeholder key
    served = ServedApp(llm)
    try:
        with serve(home, KRIPTIK_LLM_BASE_URL=f"{served.url}/v1",
                   KRIPTIK_MODEL="bench/echo") as server:  # fmt: skip
            yield _kriptik(server), llm
    finally:
        served.stop()


def kriptik_cold_start(home: Path) -> float:
    """Seconds from `kriptik serve` to a healthy /health, for the home as it is."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRIPTIK_")}
    env |= {"KRIPTIK_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our modules
        [sys.executable, "-m", "ui.cli", "serve", "--port", str(port)], cwd=PROJECT_ROOT,
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return wait_healthy(f"http://127.0.0.1:{port}", process, started)
    finally:
        process.terminate()
        process.wait(timeout=20)


def _kriptik(server: Server) -> App:
    return App("KripTik", server.url, server.process.pid, "admin", server.admin_password, True)


@dataclass
class Batch:
    """Messages sent one after another in one session: seconds from send to the end of
    each turn that ended with a reply, and the turns that did not (conflicts included)."""

    times: list[float] = field(default_factory=list)
    errors: int = 0
    conflicts: int = 0
    problems: list[str] = field(default_factory=list)

    def __iadd__(self, other: Batch) -> Batch:
        self.times += other.times
        self.errors += other.errors
        self.conflicts += other.conflicts
        self.problems += other.problems
        return self


async def timed_messages(client: Session, count: int, *, within_s: float = 60) -> Batch:
    """Send `count` messages one after another, each once the previous turn has ended.
    A turn that times out stops the session (its run may still be going, and the next
    message would overlap it): the messages not sent count as errors too."""
    batch = Batch()
    for n in range(count):
        started = time.perf_counter()
        outcome = await client.ask(f"message {n}", within_s=within_s)
        if outcome.problem is None:
            batch.times.append(time.perf_counter() - started)
            continue
        batch.errors += 1
        batch.conflicts += outcome.conflict
        batch.problems.append(client.problems[-1])
        if outcome.problem.startswith("no end within"):
            batch.errors += count - n - 1
            batch.problems += ["not sent: an earlier turn timed out"] * (count - n - 1)
            break
    return batch


async def session(app: App, *, token: str | None = None) -> Session:
    client = Session(app.url, app.username, app.password)
    client.token = token or ""
    await client.connect(chat_start=app.chat_start)
    return client


async def login_token(app: App) -> str:
    return await Session(app.url, app.username, app.password).login()
