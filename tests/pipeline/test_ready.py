"""`kriptik serve` launches the pipeline in the background, so /health need not wait for
its imports; a deployment tool called meanwhile waits for the launch instead of saying
that deployments are unavailable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import cast

import pytest
from pydantic_ai import ToolFailed

from tools.pipeline.services import PipelineServices, available, configure, launching, ready
from tools.pipeline_cards import pipeline

SERVICES = cast("PipelineServices", object())  # registered and handed back, never used


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    configure(None)
    launching(None)


async def _yield_to_others(times: int = 5) -> None:
    for _ in range(times):  # lets the waiter reach its await; no timing involved
        await asyncio.sleep(0)


async def test_a_tool_waits_for_a_launch_under_way() -> None:
    gate = asyncio.Event()

    async def launch() -> None:
        await gate.wait()
        configure(SERVICES)

    launching(asyncio.ensure_future(launch()))
    assert available()
    waiter = asyncio.ensure_future(pipeline())
    await _yield_to_others()
    assert not waiter.done()  # still launching: the tool waits rather than failing
    gate.set()
    assert await waiter is SERVICES


async def test_a_launch_that_failed_reads_as_unavailable() -> None:
    async def launch() -> None:
        configure(None)  # what ui.services does when DBOS does not start

    task = asyncio.ensure_future(launch())
    launching(task)
    await task
    assert not available()
    with pytest.raises(ToolFailed, match="not running"):
        await pipeline()


async def test_a_tool_that_gives_up_waiting_leaves_the_launch_running() -> None:
    gate = asyncio.Event()

    async def launch() -> None:
        await gate.wait()
        configure(SERVICES)

    task = asyncio.ensure_future(launch())
    launching(task)
    with pytest.raises(RuntimeError):
        await ready(timeout_s=0)
    assert not task.cancelled()
    gate.set()
    await task
    assert await ready() is SERVICES


async def test_nothing_launched_is_unavailable() -> None:
    assert not available()
    with pytest.raises(RuntimeError):
        await ready()
