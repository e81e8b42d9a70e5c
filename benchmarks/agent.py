"""One chat turn in process: the agent's fixed request overhead in bytes, the turn's
time against a loopback model that answers at once, and where that time goes.

    uv run python -m benchmarks.agent [--turns 30] [--profile]

The fixed overhead is what every model request carries before the conversation: the
system prompt and the tool schemas, as sent on the wire (measured from the request the
loopback fake received). The turn time is `run_turn` end to end (history load, the cost
cap, audit rows, the request, the streamed reply, history save) with SQLite.
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
from pathlib import Path

import httpx
from pydantic import SecretStr
from pydantic_ai.models import override_allow_model_requests

from agent import TurnContext, run_turn
from agent.llm import LOCAL_KEY
from benchmarks._measure import cpu_note, percentile
from tests.conftest import new_master_key
from tests.fakes.llm import LlmFake
from tests.fakes.server import ServedApp
from vault import Settings, Vault


def _compact(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def main(turns: int, profile: bool) -> None:
    llm = LlmFake(keys={LOCAL_KEY})  # a local server: it takes the placeholder key
    served = ServedApp(llm)
    try:
        with tempfile.TemporaryDirectory(prefix="kriptik-bench-") as home:
            settings = Settings(home=Path(home), master_key=SecretStr(new_master_key()),
                                llm_base_url=f"{served.url}/v1", model="bench/echo")  # fmt: skip
            vault = await Vault.open(settings)
            user = await vault.users.create("bench", SecretStr("correct-horse-battery"))
            async with httpx.AsyncClient(trust_env=False) as http:

                async def turn(n: int) -> float:
                    ctx = TurnContext(
                        settings=settings, vault=vault, user_id=user.id,
                        user_name=user.name, thread_id="bench", http=http,
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
                    times = [await turn(n) for n in range(turns)]
                    if profiler:
                        profiler.disable()
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
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.profile))
