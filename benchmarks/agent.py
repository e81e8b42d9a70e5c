"""One chat turn in process: the agent's fixed request overhead in bytes, the turn's
time against a loopback model that answers at once, and where that time goes.

    uv run python -m benchmarks.agent [--turns 30] [--profile]

It also counts what each timed turn asks of the database (transactions, and statements by
verb) and its CPU time (`time.process_time`, the whole process: the loopback fake too),
and times the history's share of a turn alone: load the thread's last 120 messages, add a
prompt and a reply, save (`SqlConversationStore` kept across turns, as `ui.root.Root` keeps
it), on threads of 20 and 120 messages.

The fixed overhead is what every model request carries before the conversation: the
system prompt and the tool schemas, as sent on the wire (measured from the request the
loopback fake received). The turn time is `run_turn` end to end (history load, the cost
cap, audit rows, the request, the streamed reply, history save) with SQLite.

Then the LLM dollars of one deploy turn, with prompt caching and the trimmed prompt and
schemas, against today's figures measured in the same run (`benchmarks.agent_cost`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from pydantic import SecretStr
from pydantic_ai.conversation import Conversation
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.models import override_allow_model_requests
from pydantic_ai.usage import RequestUsage
from sqlalchemy import event

from agent import TurnContext, run_turn
from agent.history import SqlConversationStore
from agent.llm import LOCAL_KEY, ChatModels
from agent.run import instructions
from benchmarks import agent_cost
from benchmarks._measure import cpu_note, percentile
from tests.conftest import new_master_key
from tools.publish.service import LivePublishing
from tools.services import LiveServices
from tools.simulator.llm import LlmFake
from tools.simulator.server import ServedApp
from vault import Settings, Vault


def _compact(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _exchange(n: int, system: str) -> list[ModelMessage]:
    """One turn's two messages, shaped as the agent stores them (its instructions on the
    request, usage and model on the reply)."""
    reply = f"Reply {n}: " + "a few sentences of an answer, as a model would write. " * 4
    return [
        ModelRequest(parts=[UserPromptPart(content=f"message {n}")], instructions=system),
        ModelResponse(parts=[TextPart(content=reply)], model_name="bench/echo",
                      usage=RequestUsage(input_tokens=3000, output_tokens=60)),
    ]  # fmt: skip


async def history_turns(vault: Vault, size: int, rounds: int = 60) -> tuple[float, float]:
    """Median wall ms and mean CPU ms of one turn's history load + save, `size` messages."""
    store = SqlConversationStore(vault.sessions)
    system, cid = instructions("bench"), f"history-{size}"
    messages = [m for n in range(size // 2) for m in _exchange(n, system)]
    await store.save(Conversation(conversation_id=cid, messages=messages), scope="bench")
    walls: list[float] = []
    cpu = time.process_time()
    for n in range(rounds):
        started = time.perf_counter()
        loaded = await store.load(cid, scope="bench", limit=120)
        assert loaded is not None
        loaded.messages += _exchange(size + n, system)
        await store.save(loaded, scope="bench")
        walls.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu
    return statistics.median(walls) * 1000, cpu / rounds * 1000


async def main(turns: int, profile: bool) -> None:
    llm = LlmFake(keys={LOCAL_KEY})  # a local server: it takes the placeholder key
    served = ServedApp(llm)
    try:
        with tempfile.TemporaryDirectory(prefix="kriptik-bench-") as home:
            settings = Settings(home=Path(home), master_key=SecretStr(new_master_key()),
                                llm_base_url=f"{served.url}/v1", model="bench/echo")  # fmt: skip
            vault = await Vault.open(settings)
            user = await vault.users.create("bench", SecretStr("correct-horse-battery"))
            database: Counter[str] = Counter()

            def began(*_: object) -> None:
                database["transactions"] += 1

            def statement(_c: object, _r: object, sql: str, *_: object) -> None:
                database[sql.split(None, 1)[0].upper()] += 1

            models = ChatModels()  # one per process, as the app's root holds it
            history = SqlConversationStore(vault.sessions)  # likewise
            async with httpx.AsyncClient(trust_env=False) as http:

                async def turn(n: int) -> float:
                    ctx = TurnContext(
                        settings=settings, vault=vault, user_id=user.id,
                        user_name=user.name, thread_id="bench",
                        services=LiveServices(vault, settings, http),
                        publishing=LivePublishing(vault, settings, http), models=models,
                        history=history,
                    )  # fmt: skip
                    started = time.perf_counter()
                    async for _ in run_turn(ctx, f"message {n}"):
                        pass
                    return time.perf_counter() - started

                with override_allow_model_requests(True):
                    await turn(-1)
                    profiler = cProfile.Profile() if profile else None
                    if profiler:
                        profiler.enable()
                    engine = vault.engine.sync_engine
                    event.listen(engine, "begin", began)
                    event.listen(engine, "before_cursor_execute", statement)
                    cpu = time.process_time()
                    times = [await turn(n) for n in range(turns)]
                    cpu = time.process_time() - cpu
                    event.remove(engine, "begin", began)
                    event.remove(engine, "before_cursor_execute", statement)
                    if profiler:
                        profiler.disable()
            histories = {size: await history_turns(vault, size) for size in (20, 120)}
            await vault.close()
    finally:
        served.stop()
    first = llm.calls_to("POST /v1/chat/completions")[0].json()
    system = next(m for m in first["messages"] if m["role"] in ("system", "developer"))
    fixed = _compact(system) + _compact(first.get("tools", []))
    ms = [t * 1000 for t in times]
    print(f"Agent turn in process, loopback model ({cpu_note()})\n")
    tools = first.get("tools", [])
    print(
        f"fixed request overhead: {fixed:,} bytes (system prompt {_compact(system):,}, "
        f"{len(tools)} tool schemas {_compact(tools):,})"
    )
    p50, p95 = statistics.median(ms), percentile(ms, 95)
    print(f"turn: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {turns} turns")
    print(f"CPU per turn: {cpu / turns * 1000:.1f} ms")
    per_turn = ", ".join(f"{k} {v / turns:g}" for k, v in sorted(database.items()))
    print(f"database per turn: {per_turn}")
    for size, (wall, cpu_ms) in histories.items():
        print(f"history load + save, {size} messages: {wall:.2f} ms (CPU {cpu_ms:.2f} ms)")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    print()
    await agent_cost.main()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.profile))
