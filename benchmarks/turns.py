"""Fast turns: KripTik's chat turn, cold start and memory against their baselines, side by
side in one run.

    uv run python -m benchmarks.turns [--messages 40] [--starts 3]

- **Turn:** each message timed from the socket emit to the end of its run (the same client
  as benchmarks/chat.py), KripTik against a minimal pydantic-ai Chainlit app
  (`benchmarks/minimal_app.py`) streaming the same loopback model's reply, in interleaved
  halves. Also a plain pydantic-ai `Agent.run` in this process, for reference.
- **Cold start:** `kriptik serve` on an existing home to its first 200 from /health,
  against the bare Chainlit echo app started the same way, interleaved; medians.
- **Memory:** KripTik's resident memory idle (once /readyz says ready: the database, the
  migrations and the workflow engine are up) and after its first turns, beside both
  baselines'.

The targets (issue: fast turns): turn p95 at most 1.3x the minimal app, cold start at most
1.3x the bare Chainlit app, idle RSS at most 150 MiB. A failed turn exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from agent.llm import LOCAL_KEY
from benchmarks._apps import (
    App,
    Batch,
    echo_app,
    kriptik_cold_start,
    minimal_agent_app,
)
from benchmarks._measure import cpu_note, percentile, rss_kib, table
from benchmarks.chat import WARM_UP, round_trip
from tests.services.kriptik import serve
from tools.simulator.llm import LlmFake
from tools.simulator.server import ServedApp

TURN_P95_RATIO = 1.3
COLD_START_RATIO = 1.3
IDLE_RSS_MIB = 150.0


@dataclass
class Figures:
    ours: Batch
    minimal: Batch
    in_process_ms: list[float]
    idle_mib: float
    after_turns_mib: float
    minimal_mib: float
    echo_mib: float
    starts: list[float]
    echo_starts: list[float]


def wait_ready(url: str, within_s: float = 120) -> None:
    """Until /readyz answers 200: the database, the migrations and the workflow engine."""
    deadline = time.monotonic() + within_s
    while httpx.get(f"{url}/readyz", timeout=30).status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}/readyz did not become ready in {within_s:.0f} s")
        time.sleep(0.05)  # polling the server's own readiness state


async def _agent_runs(llm_url: str, count: int) -> list[float]:
    """Plain `Agent.run` in process against the same model: ms per run after a warm-up."""
    provider = OpenAIProvider(base_url=f"{llm_url}/v1", api_key=LOCAL_KEY)
    agent = Agent(OpenAIChatModel("bench/echo", provider=provider))
    await agent.run("warm up")
    times: list[float] = []
    for n in range(count):
        started = time.perf_counter()
        await agent.run(f"message {n}")
        times.append((time.perf_counter() - started) * 1000)
    return times


async def _turns(
    tmp: Path, llm_url: str, messages: int
) -> tuple[Batch, Batch, list[float], list[float]]:
    """Round trips of both apps (interleaved halves); RSS idle, after turns, baselines.
    KripTik is measured on a restart, as a service runs: its first run (master key,
    migrations, first admin) only makes the home and its admin's password."""
    home = tmp / "kriptik"
    model = {"KRIPTIK_LLM_BASE_URL": f"{llm_url}/v1", "KRIPTIK_MODEL": "bench/echo"}
    with serve(home, **model) as first:
        password = first.admin_password
    ours, minimal = Batch(), Batch()
    with (
        serve(home, **model) as server,
        minimal_agent_app(tmp / "minimal", llm_url) as (base, _),
        echo_app(tmp / "echo-rss") as (echo, _),
    ):  # fmt: skip
        wait_ready(server.url)
        app = App("KripTik", server.url, server.process.pid, "admin", password, True)
        memory = [rss_kib(app.pid)]
        for _ in range(2):  # interleaved halves: a busy machine slows both alike
            ours += await round_trip(app, messages // 2)
            minimal += await round_trip(base, messages // 2)
        memory += [rss_kib(app.pid), rss_kib(base.pid), rss_kib(echo.pid)]
    in_process = await _agent_runs(llm_url, messages)
    return ours, minimal, in_process, memory


def _cold_starts(tmp: Path, runs: int) -> tuple[list[float], list[float]]:
    """`kriptik serve` restarts on one home (its first run made it) and echo app starts."""
    home = tmp / "starts"
    kriptik_cold_start(home)  # the first run: master key, migrations, first admin
    ours, echo = [], []
    for n in range(runs):
        ours.append(kriptik_cold_start(home))
        with echo_app(tmp / f"echo{n}") as (_, cold):
            echo.append(cold)
    return ours, echo


async def measure(messages: int, starts: int) -> Figures:
    served = ServedApp(LlmFake(keys={LOCAL_KEY}))
    try:
        with tempfile.TemporaryDirectory(prefix="kriptik-bench-") as name:
            tmp = Path(name)
            ours, minimal, in_process, memory = await _turns(tmp, served.url, messages)
            ours_starts, echo_starts = _cold_starts(tmp, starts)
    finally:
        served.stop()
    idle, after, minimal_kib, echo_kib = (kib / 1024 for kib in memory)
    return Figures(ours, minimal, in_process, idle, after, minimal_kib, echo_kib,
                   ours_starts, echo_starts)  # fmt: skip


def _verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "MISSED"


def _turn_rows(f: Figures) -> list[list[str]]:
    def row(name: str, ms: list[float], errors: int) -> list[str]:
        return [name, str(len(ms)), f"{percentile(ms, 50):.1f}", f"{percentile(ms, 95):.1f}",
                str(errors)]  # fmt: skip

    return [
        row("KripTik", _ms(f.ours), f.ours.errors),
        row("minimal pydantic-ai app", _ms(f.minimal), f.minimal.errors),
        row("Agent.run in process", f.in_process_ms, 0),
    ]


def _ms(batch: Batch) -> list[float]:
    return [t * 1000 for t in batch.times]


def _ratio_rows(f: Figures) -> list[list[str]]:
    med = statistics.median
    p95 = percentile(_ms(f.ours), 95)
    turn = p95 / percentile(_ms(f.minimal), 95)
    start = med(f.starts) / med(f.echo_starts)
    in_process = p95 / percentile(f.in_process_ms, 95)
    return [
        ["turn p95 / minimal app", f"{turn:.2f}x", f"at most {TURN_P95_RATIO}x",
         _verdict(turn, TURN_P95_RATIO)],
        ["turn p95 / Agent.run in process", f"{in_process:.2f}x", "", ""],
        ["cold start / bare Chainlit", f"{start:.2f}x", f"at most {COLD_START_RATIO}x",
         _verdict(start, COLD_START_RATIO)],
        ["idle RSS", f"{f.idle_mib:.0f} MiB", f"at most {IDLE_RSS_MIB:.0f} MiB",
         _verdict(f.idle_mib, IDLE_RSS_MIB)],
    ]  # fmt: skip


def report(f: Figures) -> int:
    """Print the figures and the three ratios; the number of failed turns."""
    med = statistics.median
    print(f"Fast turns ({cpu_note()})\n")
    print(table(_turn_rows(f), ["turn", "timed", "p50 ms", "p95 ms", "errors"]))
    print(
        f"\ncold start to /health, median of {len(f.starts)}: KripTik {med(f.starts):.2f} s,"
        f" bare Chainlit {med(f.echo_starts):.2f} s"
    )
    turns = len(f.ours.times) + 2 * WARM_UP
    print(
        f"RSS: KripTik idle {f.idle_mib:.0f} MiB, after {turns} turns {f.after_turns_mib:.0f}"
        f" MiB; minimal app {f.minimal_mib:.0f} MiB, bare Chainlit {f.echo_mib:.0f} MiB\n"
    )
    print(table(_ratio_rows(f), ["ratio", "measured", "target", ""]))
    failed = f.ours.errors + f.minimal.errors
    if failed:
        print(f"\n!!! {failed} TURNS FAILED: {(f.ours.problems + f.minimal.problems)[:5]}")
    return failed


def main(messages: int = 40, starts: int = 3) -> int:
    return report(asyncio.run(measure(messages, starts)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    sys.exit(1 if main(args.messages, args.starts) else 0)
