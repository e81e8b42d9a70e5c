"""The deployment's approval card per target, and `compare_targets`, planned live: the real
pipeline's services with the Hugging Face and Cloud Run targets pointed at their fakes.

The card names the target, the offer, its price per replica and where that price comes
from, the replicas and scale-to-zero, then the budget and lifetime as for RunPod; bad input
makes a card that asks nobody and says why; RunPod's card is what it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from pydantic_ai import Agent, Tool
from pydantic_ai.messages import ToolReturnPart

from agent.events import Approval
from tests.pipeline.conftest import PipelineEnv
from tests.pipeline.target_services import add_gcp_key, build_targets
from tests.tool_calls_model import calls_then_done
from tools import target_tools
from tools.approval import Approvals
from tools.cards import Card
from tools.deps import Deps
from tools.pipeline.handle import PipelineHandle
from tools.pipeline.services import PipelineServices
from tools.pipeline_cards import EndpointCard, endpoint_card
from tools.simulator.all import FakeStack
from tools.target_tools import TargetComparison
from tools.targets.cloudrun import L4_USD_PER_HOUR
from ui.web.approvals import card_for

TINY = "kriptik-test/tiny-llama"


@dataclass
class _Deps:
    """The part of the agent's `Deps` the card and `compare_targets` use."""

    user_id: str
    pipeline: PipelineHandle | None = None
    approvals: Approvals = field(default_factory=Approvals)


@pytest.fixture
def on_targets(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices],
    monkeypatch: pytest.MonkeyPatch,
) -> PipelineServices:  # fmt: skip
    # An 8-hour lifetime: a day of Cloud Run's L4 would be over the pinned $20 cap.
    settings = pipeline.settings.model_copy(update={"endpoint_ttl_s": 8 * 3600})
    return services(targets=build_targets(pipeline, monkeypatch), settings=settings)


async def _card(env: PipelineEnv, user: str, **args: Any) -> Card:
    full: dict[str, Any] = {"repo_id": TINY, "pool": "auto", "gpu_count": 1, "workers_min": 0,
                            "workers_max": 1, "target": "runpod", "region": None} | args  # fmt: skip
    deps = _Deps(user, pipeline=PipelineHandle.of(env.pipe))
    return await endpoint_card(cast(Deps, deps), full)  # the card reads these fields only


def _rows(card: Card) -> dict[str, str]:
    approval = Approval(
        tool_call_id="c1", tool=card.tool, provider=card.provider, summary=card.summary,
        creates=card.creates, price=card.price, usd_per_hour=card.usd_per_hour, args=card.args,
        facts=card.facts, gpu=card.gpu,
    )  # fmt: skip
    return {r["name"]: r["value"] for r in card_for(approval).rows()}


async def test_the_hugging_face_card_names_the_target_offer_and_price(
    pipeline: PipelineEnv, on_targets: PipelineServices, fakes: FakeStack
) -> None:
    card = await _card(pipeline, await pipeline.new_user(), target="huggingface")
    assert isinstance(card, EndpointCard) and card.plan.target == "huggingface"
    label = "NVIDIA T4 16 GB x1 (Hugging Face, aws us-east-1)"
    assert (card.provider, card.summary) == ("Hugging Face Inference Endpoints", f"Deploy {TINY} on "
                                             "Hugging Face Inference Endpoints")  # fmt: skip
    assert card.creates == [
        f"an Inference Endpoint on {label}, 0 to 1 replicas, serving {TINY} at revision "
        f"{card.plan.worker.revision}"
    ]
    facts = card.facts
    assert facts["target"] == "Hugging Face Inference Endpoints" and facts["GPU"] == label
    assert facts["price"] == "$0.5000/h per running replica" and facts["region"] == "us-east-1"
    assert "GET /v2/provider/" in facts["price source"]
    assert facts["replicas"] == "0 to 1" and facts["scale to zero"] == "after 1 min idle"
    assert facts["image"] == "Hugging Face's serving image for text-generation"
    assert "lifetime" in facts and card.usd_per_hour == pytest.approx(0.5)
    # The budget line, as for RunPod: the plan's own price over its lifetime.
    assert card.price.endswith(
        "This plan can cost at most $4.00 (1 replica x $0.50/h x 8 h); $50.00 of your $50.00 "
        "monthly budget is left."
    )
    assert "(price: Hugging Face Inference Endpoints API (GET /v2/provider/" in card.price
    rows = _rows(card)
    assert rows["Provider"] == "Hugging Face Inference Endpoints"
    assert rows["GPU pool"] == f"{label} x 1 GPU"
    assert rows["Running"] == "$0.50/hour per replica while it runs"
    assert rows["Idle"] == "$0.00/hour: no replica runs while idle"
    # A request that comes alone bills the replica's minute of idle before scale-to-zero.
    assert rows["1,000 requests"] == (
        "$0.28 to $8.61, at ~2 s of GPU each (the higher figure when requests come one at a "
        "time, each replica billed 1 min idle after it)"
    )
    assert "price source: Hugging Face Inference Endpoints API" in rows["Runs exactly"]
    assert fakes.hf_endpoints.live() == []


async def test_the_cloud_run_card_names_the_l4_and_our_image(
    pipeline: PipelineEnv, on_targets: PipelineServices, fakes: FakeStack
) -> None:
    user = await pipeline.new_user()
    await add_gcp_key(pipeline, fakes, user)
    card = await _card(pipeline, user, target="cloudrun", region="europe-west4")
    assert isinstance(card, EndpointCard) and card.provider == "Google Cloud Run"
    assert card.creates[0].startswith("a worker image built here, pushed to Artifact Registry")
    assert card.creates[1].startswith(
        "a Cloud Run service on NVIDIA L4 24 GB (Google Cloud Run, europe-west4), 0 to 1 instances"
    )
    facts = card.facts
    assert facts["price"] == f"${L4_USD_PER_HOUR:.4f}/h per running instance"
    assert facts["region"] == "europe-west4" and facts["image"] == "transformers worker built here"
    assert "cloud.google.com/run/pricing" in facts["price source"]
    assert "identity token" in card.price
    rows = _rows(card)
    assert rows["Running"] == "$1.05/hour per instance while it runs"
    assert rows["1,000 requests"].endswith("each instance billed 15 min idle after it)")
    assert fakes.cloudrun.services == {}


async def test_bad_input_makes_a_card_that_asks_nobody_and_says_why(
    pipeline: PipelineEnv, on_targets: PipelineServices
) -> None:
    user = await pipeline.new_user()
    region = await _card(pipeline, user, target="huggingface", region="mars-1")
    assert not region.known and "no GPU offers in 'mars-1'" in region.price
    offer = await _card(pipeline, user, target="huggingface", pool="aws/us-east-1/nvidia-h100/x8")
    assert not offer.known and "does not list 'aws/us-east-1/nvidia-h100/x8'" in offer.price
    no_key = await _card(pipeline, user, target="cloudrun")
    assert not no_key.known and "`kriptik keys add gcp < key.json`" in no_key.price
    assert "call request_api_key with provider 'gcp'" in no_key.price  # asked in the chat


async def test_the_runpod_card_is_unchanged(
    pipeline: PipelineEnv, on_targets: PipelineServices
) -> None:
    card = await _card(pipeline, await pipeline.new_user())
    assert isinstance(card, EndpointCard) and card.provider == "RunPod"
    assert card.summary == f"Deploy {TINY}" and card.plan.target == "runpod"
    assert list(card.facts)[:4] == ["model", "revision", "worker", "GPU pool"]
    assert card.facts["price"].endswith("/h per running worker")


async def test_compare_targets_prices_each_target_the_user_has_a_key_for(
    pipeline: PipelineEnv, on_targets: PipelineServices, fakes: FakeStack
) -> None:
    user = await pipeline.new_user()
    compared = await _compare(pipeline, user)
    by = {t.target: t for t in compared.targets}
    assert list(by) == ["runpod", "huggingface", "cloudrun", "sagemaker"]
    assert by["sagemaker"].missing_key == "aws" and by["sagemaker"].usd_per_hour is None
    assert by["runpod"].pool == "AMPERE_16" and (by["runpod"].usd_per_hour or 0) > 0
    assert by["runpod"].gpu == "16 GB (AMPERE_16)" and by["runpod"].region is None
    assert by["huggingface"].pool == "aws/us-east-1/nvidia-t4/x1"
    assert by["huggingface"].usd_per_hour == 0.5 and by["huggingface"].region == "us-east-1"
    assert by["cloudrun"].missing_key == "gcp" and by["cloudrun"].usd_per_hour is None
    assert "kriptik keys add gcp" in (by["cloudrun"].note or "")
    assert "call request_api_key with provider 'gcp'" in (by["cloudrun"].note or "")
    await add_gcp_key(pipeline, fakes, user)
    again = {t.target: t for t in (await _compare(pipeline, user)).targets}
    assert again["cloudrun"].usd_per_hour == pytest.approx(L4_USD_PER_HOUR)
    assert again["cloudrun"].price_source and "run/pricing" in again["cloudrun"].price_source


async def test_compare_targets_lists_only_runpod_where_no_other_target_is_enabled(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    services()
    compared = await _compare(pipeline, await pipeline.new_user())
    assert [t.target for t in compared.targets] == ["runpod"]


async def _compare(env: PipelineEnv, user: str) -> TargetComparison:
    tool: Tool[Any] = Tool(target_tools.compare_targets, docstring_format="google",
                           require_parameter_descriptions=True)  # fmt: skip
    agent = Agent(calls_then_done(("compare_targets", {"repo_id": TINY})), deps_type=_Deps,
                  tools=[tool])  # fmt: skip
    run = await agent.run("compare", deps=_Deps(user, pipeline=PipelineHandle.of(env.pipe)))
    [result] = [
        p.content for m in run.all_messages() for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart)
    ]  # fmt: skip
    assert isinstance(result, TargetComparison)
    return result
