"""The agent's GPU tools on a scripted model: nothing is created before approval, the
approval card states what and the price, then the real pipeline runs against the fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults, Tool
from pydantic_ai.messages import ModelMessage, ToolReturnPart

from tests.artifacts.dockerfile_rules import lint
from tests.pipeline.conftest import PipelineEnv
from tests.tool_calls_model import approve_cards, calls_then_done
from tools import pipeline_tools
from tools.approval import Approvals
from tools.pipeline.handle import PipelineHandle
from tools.pipeline.services import PipelineServices
from tools.simulator.all import FakeStack


@dataclass
class _Deps:
    """The part of the agent's `Deps` these tools use."""

    user_id: str
    thread_id: str = "thread-7"
    lines: list[str] = field(default_factory=list[str])
    started: list[str] = field(default_factory=list[str])
    approvals: Approvals = field(default_factory=Approvals)
    pipeline: PipelineHandle | None = None

    async def progress(
        self, text: str, *, tool_call_id: str | None = None, fraction: float | None = None
    ) -> None:
        self.lines.append(text)

    async def deployment_started(
        self, deployment_id: str, *, tool_call_id: str | None = None
    ) -> None:
        self.started.append(deployment_id)


_PLAIN: dict[str, Any] = {"docstring_format": "google", "require_parameter_descriptions": True}
TOOLS: list[Tool[Any]] = [
    Tool(pipeline_tools.build_dockerfile, **_PLAIN),
    Tool(pipeline_tools.get_deployment_status, **_PLAIN),
    Tool(pipeline_tools.create_runpod_endpoint, requires_approval=True, **_PLAIN),
    Tool(pipeline_tools.teardown, requires_approval=True, **_PLAIN),
]


def _agent(*calls: tuple[str, dict[str, Any]]) -> Agent[_Deps, str | DeferredToolRequests]:
    return Agent(
        calls_then_done(*calls),
        deps_type=_Deps,
        tools=TOOLS,
        output_type=[str, DeferredToolRequests],
    )


async def _run(
    agent: Agent[_Deps, str | DeferredToolRequests], deps: _Deps
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Run to the end, approving every call; returns tool results and the approval plans."""
    history: list[ModelMessage] = []
    results: DeferredToolResults | None = None
    plans: list[tuple[str, Any]] = []
    for _ in range(6):
        run = await agent.run(
            None if history else "deploy it",
            deps=deps,
            message_history=history,
            deferred_tool_results=results,
        )
        history = run.all_messages()
        if not isinstance(run.output, DeferredToolRequests):
            break
        results, cards = await approve_cards(run.output, deps, TOOLS)
        plans += [(card.tool, card) for card in cards]
    returns = {
        p.tool_call_id: p.content
        for m in history
        for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart)
    }
    return returns, plans


async def test_build_dockerfile_writes_the_worker_or_names_the_vllm_env(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    services()
    deps = _Deps(await pipeline.new_user(), pipeline=PipelineHandle.of(pipeline.pipe))
    agent = _agent(
        ("build_dockerfile", {"repo_id": "kriptik-test/tiny-diffusion"}),
        ("build_dockerfile", {"repo_id": "kriptik-test/tiny-llama"}),
        ("build_dockerfile", {"repo_id": "not a repo"}),
    )
    returns, _ = await _run(agent, deps)
    diffusion, llm, bad = returns["call-0"], returns["call-1"], returns["call-2"]
    assert diffusion.kind == "diffusers" and diffusion.needs_build
    assert lint(diffusion.dockerfile) == []
    assert diffusion.build_commands[-1].startswith("docker push ghcr.io/YOUR_NAME/")
    assert llm.kind == "vllm" and not llm.needs_build
    assert llm.template_env["MODEL_NAME"] == "kriptik-test/tiny-llama"
    assert "not a Hugging Face repo id" in str(bad)


async def test_create_needs_approval_then_deploys_and_teardown_removes_it(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    services()
    deps = _Deps(await pipeline.new_user(), pipeline=PipelineHandle.of(pipeline.pipe))
    agent = _agent(
        ("create_runpod_endpoint", {"repo_id": "kriptik-test/tiny-llama", "pool": "auto"}),
        ("get_deployment_status", {"endpoint_id": "placeholder"}),
    )
    returns, plans = await _run(agent, deps)
    report = returns["call-0"]
    assert report.state == "ready" and report.endpoint_id in fakes.runpod.state.endpoints
    assert report.urls["openai"].endswith("/openai/v1")
    [(name, plan)] = plans
    assert name == "create_runpod_endpoint" and plan.known
    assert plan.facts["host CUDA"] == "13.0 or newer"  # the vLLM image's floor, in "Runs exactly"
    assert plan.facts["lifetime"] == (  # the endpoint's lifetime (settings' defaults)
        "Stops by itself after 24 h, or after 2 h with no requests; you are warned 15 min before"
    )
    assert plan.usd_per_hour == report.usd_per_hour_per_worker
    assert "A running worker costs $" in plan.price and "nothing while idle" in plan.price
    assert "Creating the RunPod template." in deps.lines
    assert deps.started == [report.deployment_id]  # the chat is told what to follow
    assert "no deployment or endpoint 'placeholder'" in str(returns["call-1"])

    [template_id] = fakes.runpod.state.templates
    status = _agent(
        ("get_deployment_status", {"endpoint_id": report.endpoint_id}),
        ("teardown", {"endpoint_id": report.endpoint_id}),
    )
    returns, plans = await _run(status, deps)
    assert returns["call-0"].state == "ready"
    assert plans[0][1].creates == [
        f"deletes endpoint {report.endpoint_id}",
        f"deletes template {template_id}",
    ]
    assert returns["call-1"].failure is None
    assert fakes.runpod.state.endpoints == {}


async def test_nothing_is_created_when_the_approval_is_denied(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    svc = services()
    deps = _Deps(await pipeline.new_user(), pipeline=PipelineHandle.of(pipeline.pipe))
    agent = _agent(
        ("create_runpod_endpoint", {"repo_id": "kriptik-test/tiny-llama", "pool": "auto"})
    )
    run = await agent.run("deploy it", deps=deps)
    assert isinstance(run.output, DeferredToolRequests)
    denied = run.output.build_results(approvals={run.output.approvals[0].tool_call_id: False})
    final = await agent.run(
        None, deps=deps, message_history=run.all_messages(), deferred_tool_results=denied
    )
    assert final.output == "done"
    assert fakes.runpod.state.templates == {} and fakes.runpod.state.endpoints == {}
    assert await svc.deployments.list(deps.user_id) == []
