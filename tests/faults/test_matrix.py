"""The fault matrix as a test: no cell may be UNHANDLED, every injected fault must really
be met, and in every cell there is no duplicate resource, no lost record and no endpoint
left able to bill unannounced; teardown cells also leave a record that knows what is left
and a second teardown that finishes (tests/faults/matrix.py). `benchmarks/faults.py`
prints the same matrix.

Known holes are strict xfails naming their owner: they turn into failures (XPASS) the day
the fix lands, so the marker goes with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.faults.matrix import (
    FAULTS,
    STEPS,
    Fault,
    MatrixEnv,
    Step,
    matrix_env,
    run_cell,
    stack_for,
)
from tools.simulator.all import FakeStack

# Known holes go here as strict xfails naming their owner, e.g.
# ("endpoint: create", "lost"): pytest.mark.xfail(strict=True, reason="tools/... : ..."),
KNOWN: dict[tuple[str, Fault], pytest.MarkDecorator] = {}


def _cells() -> Iterator[Any]:
    for step in STEPS:
        for fault in FAULTS:
            mark = KNOWN.get((step.name, fault))
            yield pytest.param(step, fault, id=f"{step.name}-{fault}", marks=[mark] if mark else [])


@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    running = stack_for().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
async def env(
    stack: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MatrixEnv]:
    async with matrix_env(tmp_path_factory.mktemp("faults"), stack) as running:
        yield running


@pytest.mark.parametrize(("step", "fault"), list(_cells()))
async def test_no_cell_is_unhandled(env: MatrixEnv, step: Step, fault: Fault) -> None:
    cell = await run_cell(env, step, fault)
    assert cell.outcome != "not reached", "the fault was never met: the matrix would lie"
    assert not cell.unhandled, cell.detail
    assert cell.broken == []
    env.stack.assert_clean()
