"""The system of record under write load: audit appends (hash-chained, one lock for the
chain) and key reads (decrypt), on SQLite and on PostgreSQL, side by side.

    eval "$(scripts/start-postgres.sh)" && uv run python -m benchmarks.storage

Each audit append is one tool call's row, begun and sealed (two transactions), appended by
8 writers at once; each key read decrypts one stored key (one transaction).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr

from benchmarks._measure import cpu_note, table
from tests.conftest import new_master_key
from tests.services import postgres
from vault import Settings, Vault

WRITERS = 8


async def _rate(count: int, op: Callable[[int], Awaitable[object]]) -> float:
    started = time.perf_counter()
    per_writer = count // WRITERS
    await asyncio.gather(*(_serial(op, w * per_writer, per_writer) for w in range(WRITERS)))
    return count / (time.perf_counter() - started)


async def _serial(op: Callable[[int], Awaitable[object]], start: int, count: int) -> None:
    for n in range(start, start + count):
        await op(n)


async def _measure(url: str, home: Path, count: int) -> tuple[float, float]:
    vault = await Vault.open(Settings(home=home, database_url=url,
                                      master_key=SecretStr(new_master_key())))  # fmt: skip
    try:
        user = await vault.users.create("bench", SecretStr("correct-horse-battery"))
        await vault.credentials.add(user.id, "runpod", SecretStr("rpa_" + "K" * 40))
        audit = vault.audit

        async def append(n: int) -> None:
            row = await audit.begin_tool(thread_id="t", user_id=user.id, tool="inspect_model",
                                         tool_call_id=f"c{n}", args={"repo_id": "a/b"})  # fmt: skip
            await audit.finish_tool(row, outcome="success", summary="ok")

        appends = await _rate(count, append)
        reads = await _rate(count, lambda _n: vault.credentials.get(user.id, "runpod"))
        assert (await audit.verify()).ok
        return appends, reads
    finally:
        await vault.close()


async def main(count: int = 400) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="kriptik-bench-") as tmp:
        sqlite = await _measure(f"sqlite+aiosqlite:///{tmp}/bench.db", Path(tmp) / "a", count)
        rows.append(["SQLite (file, WAL)", f"{sqlite[0]:,.0f}", f"{sqlite[1]:,.0f}"])
        if await postgres.available():
            async with postgres.fresh_database() as url:
                pg = await _measure(url, Path(tmp) / "b", count)
            rows.append(["PostgreSQL (loopback)", f"{pg[0]:,.0f}", f"{pg[1]:,.0f}"])
            rows.append(
                ["PostgreSQL / SQLite", f"{pg[0] / sqlite[0]:.2f}x", f"{pg[1] / sqlite[1]:.2f}x"]
            )
        else:
            rows.append(["PostgreSQL", "not running", 'eval "$(scripts/start-postgres.sh)"'])
    print(f"Audit appends and key reads per second, {WRITERS} writers ({cpu_note()})\n")
    print(table(rows, ["database", "audit appends/s", "key reads/s"]))


if __name__ == "__main__":
    asyncio.run(main())
