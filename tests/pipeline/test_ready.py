"""`kriptik serve` launches the pipeline in the background, so /health need not wait for
its imports; a deployment tool called meanwhile waits for the launch (through the turn's
`PipelineHandle`) instead of saying that deployments are unavailable."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import pytest
from pydantic_ai import ToolFailed

from tools.pipeline.handle import PipelineHandle, PipelineUnavailable
from tools.pipeline_cards import pipeline

if TYPE_CHECKING:
    from tools.deps import Deps
    from tools.pipeline.durable import DeploymentPipeline

PIPELINE = cast("DeploymentPipeline", object())  # handed back, never used


@dataclass
class _Deps:
    """The one field of `Deps` that `pipeline` reads."""

    pipeline: PipelineHandle | None


def _deps(handle: PipelineHandle | None) -> Deps:
    return cast("Deps", _Deps(handle))


async def _yield_to_others(times: int = 5) -> None:
    for _ in range(times):  # lets the waiter reach its await; no timing involved
        await asyncio.sleep(0)


async def test_a_tool_waits_for_a_launch_under_way() -> None:
    gate = asyncio.Event()

    async def launch() -> DeploymentPipeline | None:
        await gate.wait()
        return PIPELINE

    handle = PipelineHandle.launching(asyncio.ensure_future(launch()))
    assert handle.available()
    waiter = asyncio.ensure_future(pipeline(_deps(handle)))
    await _yield_to_others()
    assert not waiter.done()  # still launching: the tool waits rather than failing
    gate.set()
    assert await waiter is PIPELINE


async def test_a_launch_that_failed_reads_as_unavailable() -> None:
    async def launch() -> DeploymentPipeline | None:
        return None  # what ui.root does when DBOS does not start

    task = asyncio.ensure_future(launch())
    handle = PipelineHandle.launching(task)
    await task
    assert not handle.available()
    with pytest.raises(ToolFailed, match="not running"):
        await pipeline(_deps(handle))


async def test_a_tool_that_gives_up_waiting_leaves_the_launch_running() -> None:
    gate = asyncio.Event()

    async def launch() -> DeploymentPipeline | None:
        await gate.wait()
        return PIPELINE

    task = asyncio.ensure_future(launch())
    handle = PipelineHandle.launching(task)
    with pytest.raises(PipelineUnavailable):
        await handle.ready(timeout_s=0)
    assert not task.cancelled()
    gate.set()
    await task
    assert await handle.ready() is PIPELINE


async def test_nothing_launched_is_unavailable() -> None:
    assert not PipelineHandle().available()
    with pytest.raises(PipelineUnavailable):
        await PipelineHandle().ready()
    with pytest.raises(ToolFailed, match="not running"):
        await pipeline(_deps(None))


async def test_a_running_pipeline_is_ready_at_once() -> None:
    handle = PipelineHandle.of(PIPELINE)
    assert handle.available() and handle.now() is PIPELINE
    assert await handle.ready(timeout_s=0) is PIPELINE
