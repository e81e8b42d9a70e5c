"""Budgets on real plans (`tools.budget`), planned against the simulator: a plan over what
is left is refused with the figures and what would fit (fewer workers, a cheaper pool, a
shorter time-to-live), and the agent's approval card refuses it before anyone is asked; a
plan within the budget shows its worst case against what is left; and plans keep to the
user's GPU limit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.pipeline.conftest import PipelineEnv
from tools import pipeline_tools
from tools.approval import Approvals, card_of
from tools.budget import check_plan_budget, plan_budget
from tools.cards import Card
from tools.pipeline.handle import PipelineHandle
from tools.pipeline.plan import DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.pipeline_cards import EndpointCard
from tools.simulator import hf_repos
from tools.simulator.all import FakeStack
from vault.deployments import DeploymentStore
from vault.models import utcnow

LLM = "kriptik-test/tiny-llama"  # fits every pool of the simulated catalogue


@dataclass
class _Deps:
    """The part of the agent's `Deps` the endpoint card reads."""

    user_id: str
    pipeline: PipelineHandle
    approvals: Approvals = field(default_factory=Approvals)


async def _spent(pipeline: PipelineEnv, user: str, usd: float) -> None:
    """A deployment of this month, torn down, that cost `usd`."""
    caps = (await pipeline.vault.limits.effective(user)).caps
    now = utcnow()
    await DeploymentStore(pipeline.vault.sessions).create(
        user, caps=caps, repo_id=LLM, revision="a" * 40, kind="vllm", name="kriptik-old",
        state="torn_down", created_at=now, ended_at=now, cost_usd=usd,
    )  # fmt: skip


async def _card(deps: _Deps, pool: str, workers_max: int) -> Card:
    """The approval card `create_runpod_endpoint` declares, as the agent makes it."""
    card = card_of(pipeline_tools.create_runpod_endpoint)
    assert card is not None
    args = {"repo_id": LLM, "pool": pool, "gpu_count": 1, "workers_min": 0,
            "workers_max": workers_max}  # fmt: skip
    return await card(deps, args)


async def test_a_plan_over_budget_is_refused_with_what_would_fit(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    svc = services()
    user = await pipeline.new_user()
    await pipeline.vault.limits.set_by_admin(user, monthly_budget_usd=20, deployment_cap_usd=100)
    await _spent(pipeline, user, 5.0)
    # 3 workers on an RTX 4090 pool for 6 hours: 3 x $1.116/h x 6 h = $20.09, $15 left.
    request = DeployRequest(repo_id=LLM, gpu="ADA_24", workers_max=3, ttl_s=6 * 3600)
    plan = await plan_deployment(svc, user, request)
    check = await plan_budget(svc, user, plan)
    rate = plan.usd_per_second
    assert check.worst_case_usd == pytest.approx(3 * rate * 6 * 3600)
    assert (check.spent_usd, check.left_usd) == (pytest.approx(5.0), pytest.approx(15.0))
    assert not check.fits

    assert check.fewer_workers == 2  # 2 x $6.70 fits $15; 3 does not
    cheaper = check.cheaper_pool
    assert cheaper is not None and cheaper.usd_per_second < rate
    assert 3 * cheaper.usd_per_second * 6 * 3600 <= 15.0
    # The best of the cheaper pools that fit: none pricier than it fits as well.
    assert all(
        o.usd_per_second <= cheaper.usd_per_second
        for o in plan.options
        if o.usd_per_second < rate and 3 * o.usd_per_second * 6 * 3600 <= 15.0
    )
    assert check.shorter_ttl_s is not None and check.shorter_ttl_s % 60 == 0
    assert 3 * rate * check.shorter_ttl_s <= 15.0 < 3 * rate * (check.shorter_ttl_s + 60)

    text = check.refusal(cli=True)
    assert "monthly GPU budget $20.00: $15.00 left ($5.00 spent this month)" in text
    assert f"This plan can cost up to ${check.worst_case_usd:.2f} (3 workers x $" in text
    assert "--workers-max 2" in text and f"--gpu {cheaper.pool_id}" in text
    assert f"--ttl-minutes {check.shorter_ttl_s // 60}" in text


async def test_the_per_deployment_cap_binds_before_the_budget(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    svc = services()
    user = await pipeline.new_user()
    await pipeline.vault.limits.lower_own(user, deployment_cap_usd=1.0)
    plan = await plan_deployment(svc, user, DeployRequest(repo_id=LLM))
    limits = await pipeline.vault.limits.effective(user)
    check = check_plan_budget(plan, limits, 0.0)
    assert not check.fits and check.allowed_usd == 1.0
    assert "more than your per-deployment cap of $1.00" in check.refusal()
    assert check.fewer_workers is None  # one worker is already too many
    # A plan that names no time-to-live takes the one it is given.
    old = plan.model_copy(update={"ttl_s": None})
    assert check_plan_budget(old, limits, 0.0, default_ttl_s=600).fits
    with pytest.raises(ValueError, match="no time-to-live"):
        check_plan_budget(old, limits, 0.0)


async def test_the_card_refuses_over_budget_before_anyone_is_asked(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    services()
    user = await pipeline.new_user()
    await pipeline.vault.limits.set_by_admin(user, monthly_budget_usd=20, deployment_cap_usd=100)
    await _spent(pipeline, user, 5.0)
    deps = _Deps(user, PipelineHandle.of(pipeline.pipe))
    card = await _card(deps, "ADA_24", 3)
    assert not card.known  # the agent does not ask the user; the model reads why
    assert "Over budget: monthly GPU budget $20.00: $15.00 left" in card.price
    assert "What would fit:" in card.price and "a time-to-live of " in card.price


async def test_the_card_shows_the_worst_case_against_what_is_left(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    services()
    user = await pipeline.new_user()
    await _spent(pipeline, user, 2.5)
    deps = _Deps(user, PipelineHandle.of(pipeline.pipe))
    card = await _card(deps, "auto", 1)
    assert isinstance(card, EndpointCard) and card.known
    plan = card.plan
    assert plan.ttl_s is not None
    most = plan.usd_per_second * plan.ttl_s
    assert "at most" not in card.facts  # derived, and what is left moves: not a bound fact
    assert card.price.endswith(
        f"This plan can cost at most ${most:.2f} (1 worker x ${plan.usd_per_hour:.2f}/h x "
        "24 h); $47.50 of your $50.00 monthly budget is left."
    )


async def test_plans_stay_within_the_users_gpu_limit(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    svc = services()
    user = await pipeline.new_user()
    big = "kriptik-test/thirteen-b"  # 13B in bf16: about 26 GB of weights
    fakes.huggingface.add_repo(hf_repos.safetensors_repo(
        big, hidden=5120, layers=40, intermediate=13824, heads=40, kv_heads=40, vocab=32000,
    ))  # fmt: skip
    with pytest.raises(PlanError, match=r"AMPERE_16 needs 4 GPUs per worker .* your limit is 2"):
        await plan_deployment(svc, user, DeployRequest(repo_id=big, gpu="AMPERE_16"))
    await pipeline.vault.limits.set_by_admin(user, max_gpus=4)
    four = await plan_deployment(svc, user, DeployRequest(repo_id=big, gpu="AMPERE_16"))
    assert four.gpu_count == 4

    await pipeline.vault.limits.set_by_admin(user, max_gpus=1)
    auto = await plan_deployment(svc, user, DeployRequest(repo_id=big))
    assert auto.gpu_count == 1 and all(o.gpu_count == 1 for o in auto.options)
