"""Start-up costs: the CLI, and `kriptik serve` to a healthy /health.

    uv run python -m benchmarks.startup

`kriptik --help` against `python -c pass` (the interpreter alone): what importing the CLI
costs. Cold start: from `kriptik serve` to the first 200 from /health, on a first run
(new home: master key, migrations, first admin) and on a restart (existing home), against
the bare Chainlit echo app started the same way. Medians of interleaved runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._apps import echo_app, kriptik_cold_start
from benchmarks._measure import cpu_note, table
from tests.services.kriptik import PROJECT_ROOT

TARGET_S = 5.0


def _run(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - our interpreter, our modules
        [sys.executable, *args], cwd=PROJECT_ROOT, check=True, capture_output=True
    )
    return time.perf_counter() - started


def main(runs: int = 5) -> None:
    cli, bare = [], []
    for _ in range(runs):
        cli.append(_run("-m", "ui.cli", "--help"))
        bare.append(_run("-c", "pass"))
    first, again, echo = [], [], []
    with tempfile.TemporaryDirectory(prefix="kriptik-bench-") as tmp:
        for n in range(3):
            home = Path(tmp) / f"home{n}"
            first.append(kriptik_cold_start(home))
            again.append(kriptik_cold_start(home))
            with echo_app(Path(tmp) / f"echo{n}") as (_, cold):
                echo.append(cold)
    med = statistics.median
    vs_echo = lambda values: f"{med(values) / med(echo):.1f}x echo app"  # noqa: E731
    print(f"Start-up ({cpu_note()})\n")
    print(table([
        ["kriptik --help", f"{med(cli):.2f}", f"{med(cli) / med(bare):.1f}x python -c pass"],
        ["python -c pass", f"{med(bare):.2f}", ""],
        ["kriptik serve, first run", f"{med(first):.2f}", vs_echo(first)],
        ["kriptik serve, restart", f"{med(again):.2f}", vs_echo(again)],
        ["bare Chainlit echo app", f"{med(echo):.2f}", ""],
    ], ["what", "median s", "ratio"]))  # fmt: skip
    print(f"\ncold start target: under {TARGET_S:.0f} s to a healthy /health")


if __name__ == "__main__":
    main()
