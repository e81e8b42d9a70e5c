"""Chat round trip and concurrency: KripTik against a bare Chainlit echo app.

    uv run python -m benchmarks.chat [--messages 50] [--sessions 100]

Round trip: one session sends messages one after another; each is timed from the socket
emit to the end of its run (Chainlit's `task_end`, after the last token). KripTik runs
the whole turn (history, audit rows, the model request to a loopback fake that answers
at once, the streamed reply, the saved history); the echo app sends the text back.

Concurrency: `--sessions` sessions at once, five messages each: errors, p50 and p95, and
the server's resident memory per session (its RSS after, minus before, over sessions).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import socketio

from benchmarks._apps import App, echo_app, kriptik_app, login_token, session, timed_messages
from benchmarks._client import Session
from benchmarks._measure import cpu_note, percentile, rss_kib, table

TARGET_P95 = 1.5


async def round_trip(app: App, count: int) -> list[float]:
    client = await session(app)
    await timed_messages(client, 3)  # warm up
    times, errors = await timed_messages(client, count)
    await client.close()
    assert errors == 0, f"{app.name}: {errors} failed messages"
    return times


async def concurrency(app: App, sessions: int, messages: int = 5) -> tuple[list[float], int, float]:
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
    times = [t for ts, _ in results for t in ts]
    errors = sum(e for _, e in results) + (sessions - len(clients)) * messages
    return times, errors, (after - before) / sessions


def _row(name: str, times: list[float]) -> list[str]:
    ms = [t * 1000 for t in times]
    return [name, str(len(ms)), f"{percentile(ms, 50):.1f}", f"{percentile(ms, 95):.1f}"]


async def main(messages: int, sessions: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kriptik-bench-") as tmp:
        with (
            kriptik_app(Path(tmp) / "kriptik") as (ours, _llm),
            echo_app(Path(tmp) / "echo") as (base, _),
        ):
            ours_rt, base_rt = [], []
            for _ in range(2):  # interleaved halves: a busy machine slows both alike
                ours_rt += await round_trip(ours, messages // 2)
                base_rt += await round_trip(base, messages // 2)
            ours_c = await concurrency(ours, sessions)
            base_c = await concurrency(base, sessions)
    ratio = percentile(ours_rt, 95) / percentile(base_rt, 95)
    print(f"Chat round trip, one session ({cpu_note()})\n")
    print(table([_row("KripTik", ours_rt), _row("bare Chainlit echo", base_rt)],
                ["app", "messages", "p50 ms", "p95 ms"]))  # fmt: skip
    print(f"\np95 ratio: {ratio:.2f}x (target: at most {TARGET_P95}x)\n")
    print(f"{sessions} sessions at once, 5 messages each\n")
    both = (("KripTik", ours_c), ("bare Chainlit echo", base_c))
    rows = [[*_row(name, t), str(errors), f"{kib:.0f}"] for name, (t, errors, kib) in both]
    print(table(rows, ["app", "messages", "p50 ms", "p95 ms", "errors", "RSS KiB/session"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.sessions))
