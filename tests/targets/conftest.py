"""The deploy-target tests' simulator: one stack per module, reset before each test and
checked clean after it (no request outside the providers' published contracts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.simulator.all import FakeStack


@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    fakes = FakeStack().start()
    yield fakes
    fakes.stop()


@pytest.fixture
def fakes(stack: FakeStack) -> Iterator[FakeStack]:
    stack.reset()
    yield stack
    stack.assert_clean()
