"""Per-user limits on SQLite and PostgreSQL (`vault.limits`): the settings' defaults, an
admin's override, a user lowering their own (never raising it), the caps the deployment
store then enforces, and what was spent this month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from vault import Settings, Vault
from vault.deployments import DeploymentCapReached, DeploymentStore
from vault.limits import LimitRefused, month_start

FIELDS = {"repo_id": "org/m", "revision": "a" * 40, "kind": "vllm", "name": "kriptik-m"}


async def _user(vault: Vault, name: str) -> str:
    return (await vault.users.create(name, SecretStr("correct-horse-1"))).id


async def test_defaults_then_an_admin_override_then_back(vault: Vault, settings: Settings) -> None:
    user = await _user(vault, "alice")
    limits = await vault.limits.effective(user)
    assert (limits.monthly_budget_usd, limits.deployment_cap_usd) == (
        settings.monthly_budget_usd,
        settings.deployment_cap_usd,
    )
    assert (limits.max_live, limits.max_workers, limits.max_gpus) == (
        settings.max_live_deployments,
        settings.max_workers,
        settings.max_gpus_per_endpoint,
    )
    assert limits.source("max_live") == "default"

    raised = await vault.limits.set_by_admin(user, monthly_budget_usd=100, max_live=3)
    assert raised == await vault.limits.effective(user)  # stored, not just returned
    assert (raised.monthly_budget_usd, raised.max_live) == (100, 3)
    assert raised.max_workers == settings.max_workers  # untouched: still the default
    assert raised.source("max_live") == "admin" and raised.source("max_workers") == "default"

    back = await vault.limits.set_by_admin(user, max_live=None)
    assert back.max_live == settings.max_live_deployments and back.monthly_budget_usd == 100


async def test_a_user_lowers_their_own_and_cannot_raise_it(vault: Vault) -> None:
    user = await _user(vault, "bob")
    own = await vault.limits.lower_own(user, monthly_budget_usd=20, deployment_cap_usd=5)
    assert (own.monthly_budget_usd, own.deployment_cap_usd) == (20, 5)
    assert own.source("monthly_budget_usd") == "own" and own.budget_ceiling_usd == 100

    with pytest.raises(LimitRefused, match=r"at most \$100\.00.*Ask an admin to raise it"):
        await vault.limits.lower_own(user, monthly_budget_usd=120)
    with pytest.raises(LimitRefused, match="below"):
        await vault.limits.lower_own(user, deployment_cap_usd=-1)
    assert (await vault.limits.effective(user)).monthly_budget_usd == 20  # nothing changed

    # The admin's limit below the user's own wins; raised again, the user's own holds.
    assert (await vault.limits.set_by_admin(user, monthly_budget_usd=10)).monthly_budget_usd == 10
    higher = await vault.limits.set_by_admin(user, monthly_budget_usd=150)
    assert higher.monthly_budget_usd == 20
    assert (await vault.limits.lower_own(user, monthly_budget_usd=60)).monthly_budget_usd == 60
    cleared = await vault.limits.clear_own(user)
    # The defaults (vault/settings.py): $100 a month, $50 a deployment.
    assert (cleared.monthly_budget_usd, cleared.deployment_cap_usd) == (150, 50)


async def test_an_admin_cannot_set_nonsense(vault: Vault) -> None:
    user = await _user(vault, "carol")
    with pytest.raises(LimitRefused, match="'max_cats' is not a limit"):
        await vault.limits.set_by_admin(user, max_cats=3)
    with pytest.raises(LimitRefused, match="max_workers must be at least 1"):
        await vault.limits.set_by_admin(user, max_workers=0)


async def test_caps_come_from_the_settings_and_the_admin(vault: Vault, settings: Settings) -> None:
    tight = await Vault.open(
        settings.model_copy(
            update={"max_live_deployments": 1, "max_workers": 2, "max_gpus_per_endpoint": 1}
        )
    )
    try:
        store = DeploymentStore(tight.sessions)
        user = await _user(tight, "dave")
        caps = (await tight.limits.effective(user)).caps
        assert (caps.max_live, caps.max_workers, caps.max_gpus) == (1, 2, 1)
        await store.create(user, caps=caps, **FIELDS)
        with pytest.raises(DeploymentCapReached, match=r"1 live deployment.*your limit is 1"):
            await store.create(user, caps=caps, **FIELDS)
        with pytest.raises(DeploymentCapReached, match="3 workers and your limit is 2"):
            await store.create(user, caps=caps.model_copy(update={"max_live": 9}),
                               workers_max=3, **FIELDS)  # fmt: skip
        await tight.limits.set_by_admin(user, max_live=2)
        await store.create(user, caps=(await tight.limits.effective(user)).caps, **FIELDS)
    finally:
        await tight.close()


async def test_spent_this_month_counts_this_months_share(vault: Vault) -> None:
    store = DeploymentStore(vault.sessions)
    user = await _user(vault, "erin")
    caps = (await vault.limits.effective(user)).caps.model_copy(update={"max_live": 99})
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    start = month_start(now)
    assert start == datetime(2026, 3, 1, tzinfo=UTC)

    async def spend(born: datetime, ended: datetime | None, cost: float, billed: float | None):
        await store.create(user, caps=caps, created_at=born, ended_at=ended, cost_usd=cost,
                           billed_usd=billed, state="torn_down" if ended else "ready",
                           **FIELDS)  # fmt: skip

    await spend(now - timedelta(days=20), now - timedelta(days=15), 99.0, None)  # last month
    await spend(now - timedelta(days=2), now - timedelta(days=1), 3.0, 4.5)  # the bill is higher
    await spend(now - timedelta(hours=1), None, 1.25, None)  # still up
    # Half of its life fell in this month: half of its cost.
    await spend(start - timedelta(hours=6), start + timedelta(hours=6), 8.0, None)
    await spend(now + timedelta(days=30), None, 50.0, None)  # next month's
    assert await vault.limits.spent_this_month(user, now=now) == pytest.approx(4.5 + 1.25 + 4.0)
