"""Every benchmark, one after another (what `make bench` runs):

    eval "$(scripts/start-postgres.sh)" && uv run python -m benchmarks

Each prints its own table; docs/performance.md quotes them with the command for each. The
exit status is 1 if a chat turn failed, a fault-matrix cell is unhandled, or the load test
(two instances on PostgreSQL, one killed) lost or duplicated a deployment, lost a
conversation, or failed a turn besides those in flight at the kill. Without
KRIPTIK_TEST_POSTGRES_URL the load test starts PostgreSQL itself (scripts/start-postgres.sh).
"""

from __future__ import annotations

import asyncio
import sys
import time

from benchmarks import agent, chat, faults, load, pipeline, startup, storage, turns, vault


def _section(title: str) -> None:
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}", flush=True)


def main() -> int:
    started = time.perf_counter()
    _section("vault: seal and open vs raw AES-GCM; redactor per KiB")
    vault.main()
    _section("storage: audit appends and key reads, SQLite and PostgreSQL")
    asyncio.run(storage.main())
    _section("agent: fixed request overhead, turn time in process")
    asyncio.run(agent.main(30, False))
    _section("pipeline: a whole deployment against zero-latency fakes")
    asyncio.run(pipeline.main(10))
    _section("chat: round trip and 100 sessions, KripTik vs bare Chainlit")
    chat_failed = asyncio.run(chat.main(50, 100))
    _section("startup: CLI import and cold start to /health")
    startup.main()
    _section("fast turns: turn, cold start and memory against their baselines")
    turns_failed = turns.main()
    _section("load: 100 sessions over two instances on PostgreSQL, one killed halfway")
    load_failed = asyncio.run(load.main(100, 6, 10))
    _section("faults: the fault matrix")
    unhandled = asyncio.run(faults.main(quick=False))
    print(f"\nall benchmarks: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    chat_failed += turns_failed
    if chat_failed:
        print(f"FAILED: {chat_failed} chat turns failed (see the chat section)", file=sys.stderr)
    if unhandled:
        print(f"FAILED: {unhandled} unhandled cells in the fault matrix", file=sys.stderr)
    if load_failed:
        print("FAILED: the load test (see the load section)", file=sys.stderr)
    return 1 if chat_failed or unhandled or load_failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
