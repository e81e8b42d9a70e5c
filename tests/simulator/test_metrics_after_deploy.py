"""The metrics after a simulated deploy: the REAL agent, chatting with the simulated
assistant, deploys a model on RunPod through the durable pipeline, and the process's one
registry (`tools.metrics.Metrics`, as the composition root hands it down) counts what
happened: one turn done, its tool calls, the approvals given, the keys checked, the model
requests, the deployment ready with its stages timed, and a live endpoint with its price per
hour. No label holds a key, the user's message or the user's id."""

from __future__ import annotations

import dataclasses
from typing import Final

from prometheus_client.parser import text_string_to_metric_families

from tests.simulator.conftest import World
from tools.metrics import Metrics
from vault.deployments import DeploymentStore

QWEN: Final = "Qwen/Qwen2.5-0.5B-Instruct"
ASKED: Final = f"Deploy {QWEN} as an API"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
           **labels: str) -> float:  # fmt: skip
    return samples.get((name, frozenset(labels.items())), 0.0)


async def _deploy(world: World) -> str:
    """One deploy turn with the process's metrics everywhere; the exposition after it."""
    world.metrics = Metrics(models=[world.settings.model])
    pipe = await world.pipeline.ready()
    pipe.services = dataclasses.replace(pipe.services, metrics=world.metrics)
    keys = world.demo.keys
    turn = await world.turn(
        ASKED, secrets=[keys["runpod"], keys["github"], keys["vercel"]], approvals=[True] * 3
    )
    assert turn.final.status == "done", turn.transcript()
    await world.metrics.refresh(world.vault.sessions)
    return world.metrics.exposition().decode()


async def test_a_simulated_deploy_shows_in_the_metrics(world: World) -> None:
    text = await _deploy(world)
    got = _samples(text)

    assert _value(got, "kriptik_turns_total", outcome="done") == 1
    calls = "kriptik_tool_calls_total"
    assert _value(got, calls, tool="create_runpod_endpoint", outcome="success") == 1
    assert _value(got, calls, tool="request_api_key", outcome="success") == 3
    assert _value(got, calls, tool="check_credential", outcome="success") == 3
    assert _value(got, calls, tool="inspect_model", outcome="success") == 1
    assert _value(got, "kriptik_approvals_total", decision="given") == 3
    assert _value(got, "kriptik_approvals_total", decision="refused") == 0
    for provider in ("runpod", "github", "vercel"):
        assert _value(got, "kriptik_key_validations_total", provider=provider, outcome="valid")

    model = world.settings.model
    requests = _value(got, "kriptik_llm_requests_total", model=model)
    assert requests >= 1
    assert _value(got, "kriptik_llm_tokens_total", model=model, kind="input") > 0
    assert _value(got, "kriptik_llm_tokens_total", model=model, kind="output") > 0

    assert _value(got, "kriptik_deployments_finished_total", outcome="ready") == 1
    assert _value(got, "kriptik_deployments", state="ready") == 1
    assert _value(got, "kriptik_deployments", state="failed") == 0
    for stage in ("creating_template", "creating_endpoint", "waiting", "smoke_test"):
        assert _value(got, "kriptik_deployment_stage_seconds_count", stage=stage) == 1
    [view] = await DeploymentStore(world.vault.sessions).list(world.user_id)
    assert _value(got, "kriptik_live_endpoints") == 1
    assert _value(got, "kriptik_live_endpoints_usd_per_hour") == view.usd_per_second * 3600
    assert f"{view.usd_per_second * 3600:.2f}" == "0.58"  # the "$0.58/h" the chat showed


async def test_no_label_holds_a_key_or_what_the_user_wrote(world: World) -> None:
    text = await _deploy(world)

    planted = [*world.demo.keys.values(), ASKED, QWEN, world.user_id, "demo-thread"]
    for value in planted:
        assert value not in text
    # Every label value belongs to a closed set.
    labels = {v for family in text_string_to_metric_families(text)
              for s in family.samples for k, v in s.labels.items() if k != "le"}  # fmt: skip
    assert labels <= _CLOSED | {world.settings.model}, labels - _CLOSED


_CLOSED: Final = {
    # outcomes, decisions, kinds
    "done", "usage_limit", "cost_cap", "no_model", "refused", "failed", "success", "denied",
    "retried", "interrupted", "given", "valid", "rejected", "unreachable", "ready",
    "cancelled", "input", "output", "cached", "other",
    # the agent's tools, the providers, the deployment states and stages
    "build_dockerfile", "check_credential", "choose_gpu", "compare_targets",
    "create_runpod_endpoint", "deploy_netlify", "deploy_vercel", "estimate_vram",
    "get_deployment_status", "inspect_model", "inspect_workflow", "push_to_github",
    "request_api_key", "teardown", "openrouter", "huggingface", "runpod", "github", "vercel",
    "netlify", "aws", "gcp", "planned", "building", "creating", "waiting", "testing",
    "publishing", "needs_key", "tearing_down", "torn_down", "registering",
    "creating_template", "creating_endpoint", "smoke_test",
}  # fmt: skip
