"""The traces of a simulated deploy: the REAL agent, chatting with the simulated assistant,
deploys a model on RunPod through the durable pipeline, with the world's turns and pipeline
on one `tools.tracing.Tracing` (as the composition root hands it down) exporting to memory.
The turn is one trace: the turn's span, pydantic-ai's agent run under it with a span per
model request and per tool call, and DBOS's deployment workflow under the tool call that
started it, with a span per pipeline step. No span holds a key or what the user wrote."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.simulator.conftest import World
from tools.tracing import Tracing

QWEN: Final = "Qwen/Qwen2.5-0.5B-Instruct"
ASKED: Final = f"Deploy {QWEN} as an API"
INSTANCE: Final = "kriptik-a"


@pytest.fixture
def exported() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exported: InMemorySpanExporter) -> Iterator[Tracing]:
    """The world's traces (overrides the conftest's, which are off): each span exported to
    memory as it ends."""
    tracing = Tracing.exporting_to(exported, instance_id=INSTANCE, batch=False)
    yield tracing
    tracing.shutdown()


async def _deploy(world: World, exported: InMemorySpanExporter) -> Sequence[ReadableSpan]:
    """One deploy turn, the RunPod key pasted in the secure field; the spans it made."""
    await world.pipeline.ready()
    keys = world.demo.keys
    turn = await world.turn(
        ASKED, secrets=[keys["runpod"], keys["github"], keys["vercel"]], approvals=[True] * 3
    )
    assert turn.final.status == "done", turn.transcript()
    return exported.get_finished_spans()


def _one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    [span] = [s for s in spans if s.name == name]
    return span


def _children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def test_a_deploy_turn_is_one_trace(world: World, exported: InMemorySpanExporter) -> None:
    spans = await _deploy(world, exported)

    turn = _one(spans, "chat turn")
    assert turn.parent is None
    assert turn.attributes == {
        "kriptik.user.id": world.user_id, "kriptik.thread.id": "demo-thread",
        "kriptik.turn.outcome": "done",
    }  # fmt: skip
    assert turn.resource.attributes["service.name"] == "kriptik"
    assert turn.resource.attributes["service.instance.id"] == INSTANCE
    [agent_run] = _children(spans, turn)
    assert agent_run.name == "invoke_agent kriptik"

    under_agent = _children(spans, agent_run)
    requests = [s for s in under_agent if s.name.startswith("chat ")]
    tools = {s.name for s in under_agent if s.name.startswith("execute_tool ")}
    assert len(requests) >= 2
    assert all(r.attributes and r.attributes["gen_ai.usage.input_tokens"] for r in requests)
    assert {"execute_tool inspect_model", "execute_tool request_api_key",
            "execute_tool create_runpod_endpoint", "execute_tool push_to_github"} <= tools  # fmt: skip

    # The deployment's workflow, started by the approved tool call, and its steps.
    create = _one(spans, "execute_tool create_runpod_endpoint")
    workflow = _one(spans, "kriptik.deploy")
    assert workflow.parent is not None and create.context is not None
    assert workflow.parent.span_id == create.context.span_id
    steps = {s.name for s in _children(spans, workflow)}
    expected = {"kriptik.ensure_template", "kriptik.ensure_endpoint", "kriptik.poll_workers",
                "kriptik.smoke_test", "kriptik.finish"}  # fmt: skip
    assert expected <= steps, steps
    assert turn.context is not None
    assert {s.context.trace_id for s in (agent_run, create, workflow) if s.context} == {
        turn.context.trace_id
    }


def _everything(span: ReadableSpan) -> str:
    """Every string a span carries out of the process."""
    parts = [span.name, repr(dict(span.attributes or {})), repr(span.status.description)]
    parts += [f"{e.name} {dict(e.attributes or {})!r}" for e in span.events]
    parts.append(repr(dict(span.resource.attributes)))
    return "\n".join(parts)


async def test_no_span_holds_a_key_or_what_the_user_wrote(
    world: World, exported: InMemorySpanExporter
) -> None:
    spans = await _deploy(world, exported)

    text = "\n".join(_everything(span) for span in spans)
    planted = [*world.demo.keys.values(), ASKED, QWEN, "correct horse battery staple"]
    for value in planted:
        assert value not in text
    assert len(spans) > 20  # a real trace was searched
