"""The whole deployment pipeline against zero-latency fakes (no image build: the vLLM
worker is prebuilt): wall time, and its split by stage.

    uv run python -m benchmarks.pipeline [--runs 10]

Each run plans a deployment (Hub metadata, GPU prices), records it, and runs the DBOS
workflow to ready: template, endpoint, waiting for a worker (the fake's worker is ready at
the second poll; the durable wait between polls is set to 10 ms here, 5 s in production,
and is subtracted as not ours), smoke test. What remains is KripTik's own overhead: HTTP
clients, the vault, the record, and DBOS's durable steps on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks._measure import cpu_note, peak_kib, table
from tests.faults.matrix import REPO, matrix_env, stack_for
from tools.pipeline import api
from tools.pipeline.events import StageChanged, WorkersSeen
from tools.pipeline.plan import DeployRequest, plan_deployment

TARGET_S = 3.0


async def main(runs: int) -> None:
    stack = stack_for().start()
    walls: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    polls: list[int] = []
    try:
        with tempfile.TemporaryDirectory(prefix="kriptik-bench-") as home:
            async with matrix_env(Path(home), stack) as env:
                poll_s = env.services.timings.poll_s
                for _ in range(runs + 1):  # the first run warms up
                    stack.reset()
                    started = time.perf_counter()
                    plan = await plan_deployment(
                        env.services, env.user_id, DeployRequest(repo_id=REPO)
                    )
                    marks = [("planning", started), ("recording", time.perf_counter())]
                    view = await api.create_deployment(env.services, user_id=env.user_id, plan=plan)
                    seen = 0
                    async for event in api.read_progress(view.id):
                        if isinstance(event, StageChanged):
                            marks.append((event.stage, time.perf_counter()))
                        seen += isinstance(event, WorkersSeen)
                    assert await api.wait_deployment(view.id) == "ready"
                    end = time.perf_counter()
                    if _ == 0:
                        continue
                    walls.append(end - started)
                    polls.append(len(stack.runpod.calls_to("GET /v2/serverless/{id}/workers")))
                    for (name, at), (_next, later) in zip(
                        marks, [*marks[1:], ("end", end)], strict=True
                    ):
                        stages[name].append(later - at)
    finally:
        stack.stop()
    med = statistics.median
    waited = med(polls) * poll_s
    rows = [[name, f"{med(v) * 1000:.0f}"] for name, v in stages.items()]
    print(f"Deployment pipeline, zero-latency fakes, {runs} runs ({cpu_note()})\n")
    print(table(rows, ["stage", "median ms"]))
    own = med(walls) - waited
    p95 = sorted(walls)[int(0.95 * (runs - 1))]
    print(
        f"\nwall time: median {med(walls):.2f} s, p95 {p95:.2f} s; "
        f"durable waits between {med(polls):.0f} polls: {waited:.2f} s"
    )
    print(f"pipeline's own overhead: {own:.2f} s (target: under {TARGET_S:.0f} s); "
          f"peak RSS {peak_kib() / 1024:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(main(parser.parse_args().runs))
