"""Chat round trip and concurrency: KripTik against a bare Chainlit echo app.

    uv run python -m benchmarks.chat [--messages 50] [--sessions 100]

Round trip: one session sends messages one after another, each once the previous turn has
ended; each is timed from the socket emit to the end of its own run (the `on_message` run
step under that message, then Chainlit's `task_end`, after the last token). KripTik runs
the whole turn (history, audit rows, the model request to a loopback fake that answers
at once, the streamed reply, the saved history); the echo app sends the text back.

Concurrency: `--sessions` sessions at once, five messages each: errors, p50 and p95, and
the server's resident memory per session (its RSS after, minus before, over sessions).

Only turns that ended with a reply are timed. Every other turn (no reply, an error or a
conversation conflict shown, a question, a timeout, a session that could not connect) is
counted and printed; a run with any exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import Counter
from pathlib import Path

import socketio

from benchmarks._apps import (
    App,
    Batch,
    echo_app,
    kriptik_app,
    login_token,
    session,
    timed_messages,
)
from benchmarks._client import Session
from benchmarks._measure import cpu_note, percentile, rss_kib, table

TARGET_P95 = 1.5
WARM_UP = 3


async def round_trip(app: App, count: int) -> Batch:
    """`count` timed messages in a new session, after a warm-up whose failures count too."""
    client = await session(app)
    batch = await timed_messages(client, WARM_UP)
    batch.times.clear()
    if batch.errors == 0:
        batch += await timed_messages(client, count)
    else:  # the session is not fit to time: the timed messages count as not sent
        batch.errors += count
        batch.problems += ["not sent: the warm-up failed"] * count
    await client.close()
    return batch


async def concurrency(app: App, sessions: int, messages: int = 5) -> tuple[Batch, float]:
    """`sessions` sessions (connected ten at a time: a connection storm is not the point),
    then all of them send `messages` messages at once."""
    token = await login_token(app)
    before = rss_kib(app.pid)
    gate = asyncio.Semaphore(10)

    async def connect() -> Session | None:
        async with gate:
            try:
                return await session(app, token=token)
            except (OSError, TimeoutError, socketio.exceptions.ConnectionError):
                return None

    opened = await asyncio.gather(*(connect() for _ in range(sessions)))
    clients = [c for c in opened if c is not None]
    results = await asyncio.gather(*(timed_messages(c, messages, within_s=120) for c in clients))
    after = rss_kib(app.pid)
    await asyncio.gather(*(c.close() for c in clients))
    total = Batch()
    for batch in results:
        total += batch
    unconnected = (sessions - len(clients)) * messages
    total.errors += unconnected
    total.problems += ["not sent: the session could not connect"] * unconnected
    return total, (after - before) / sessions


def _row(name: str, batch: Batch) -> list[str]:
    ms = [t * 1000 for t in batch.times]
    return [name, str(len(ms)), f"{percentile(ms, 50):.1f}", f"{percentile(ms, 95):.1f}",
            str(batch.errors), str(batch.conflicts)]  # fmt: skip


def _problems(results: list[tuple[str, Batch]]) -> int:
    """Print what went wrong, loudly; the number of failed turns."""
    failed = sum(batch.errors for _, batch in results)
    if not failed:
        return 0
    print(
        f"\n!!! {failed} TURNS FAILED: the benchmark did not pass (only turns that ended"
        " with a reply are timed) !!!"
    )
    for name, batch in results:
        for problem, times in Counter(batch.problems).most_common(5):
            print(f"  {name}: {times} x {problem}")
    print(f"chat benchmark: {failed} failed turns", file=sys.stderr)
    return failed


async def main(messages: int, sessions: int) -> int:
    """Run both benchmarks and print them; the number of turns that failed."""
    with tempfile.TemporaryDirectory(prefix="kriptik-bench-") as tmp:
        with (
            kriptik_app(Path(tmp) / "kriptik") as (ours, _llm),
            echo_app(Path(tmp) / "echo") as (base, _),
        ):
            ours_rt, base_rt = Batch(), Batch()
            for _ in range(2):  # interleaved halves: a busy machine slows both alike
                ours_rt += await round_trip(ours, messages // 2)
                base_rt += await round_trip(base, messages // 2)
            ours_c, ours_kib = await concurrency(ours, sessions)
            base_c, base_kib = await concurrency(base, sessions)
    head = ["app", "timed", "p50 ms", "p95 ms", "errors", "conflicts"]
    ratio = percentile(ours_rt.times, 95) / percentile(base_rt.times, 95)
    print(f"Chat round trip, one session ({cpu_note()})\n")
    print(table([_row("KripTik", ours_rt), _row("bare Chainlit echo", base_rt)], head))
    print(f"\np95 ratio: {ratio:.2f}x (target: at most {TARGET_P95}x)")
    print(f"errors and conflicts count every turn sent, the {WARM_UP} warm-up turns included\n")
    print(f"{sessions} sessions at once, 5 messages each\n")
    rows = [[*_row("KripTik", ours_c), f"{ours_kib:.0f}"],
            [*_row("bare Chainlit echo", base_c), f"{base_kib:.0f}"]]  # fmt: skip
    print(table(rows, [*head, "RSS KiB/session"]))
    both = [("round trip, KripTik", ours_rt), ("round trip, echo", base_rt),
            ("concurrent, KripTik", ours_c), ("concurrent, echo", base_c)]  # fmt: skip
    return _problems(both)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=100)
    args = parser.parse_args()
    raise SystemExit(1 if asyncio.run(main(args.messages, args.sessions)) else 0)
