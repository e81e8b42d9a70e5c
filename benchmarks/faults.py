"""Print the fault matrix: every provider call of a deployment x every injectable fault,
each cell one real deployment through the DBOS workflow against the loopback fakes
(tests/faults/matrix.py says what each outcome means).

    uv run python -m benchmarks.faults            # the whole matrix
    uv run python -m benchmarks.faults --quick    # four faults, to try it out
    uv run python -m benchmarks.faults --rows teardown   # the rows whose name has "teardown"
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.faults.matrix import FAULTS, STEPS, Cell, matrix_env, render, run_matrix, stack_for


async def main(quick: bool, rows: str = "") -> int:
    stack = stack_for().start()
    faults = (401, 500, "drop", "lost") if quick else FAULTS
    steps = tuple(s for s in STEPS if rows in s.name)
    try:
        with tempfile.TemporaryDirectory(prefix="kriptik-faults-") as home:
            async with matrix_env(Path(home), stack) as env:

                def progress(cell: Cell) -> None:
                    sys.stderr.write(f"  {cell.step.name} x {cell.fault}: {cell.outcome}\n")

                cells = await run_matrix(env, steps=steps, faults=faults, on_cell=progress)
    finally:
        stack.stop()
    print(render(cells))
    return 1 if any(c.unhandled for c in cells) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four faults only")
    parser.add_argument("--rows", default="", help="only the steps whose name contains this")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.quick, args.rows)))
