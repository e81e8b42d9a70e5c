"""Per-user caps hold across instances: two vault handles (two engines, as two instances
have) on one database, SQLite and PostgreSQL. An admin's limit set through one is what the
other enforces, and creates sent through both at once never pass the live-deployment cap
together. (The login throttle's counts across instances: tests/security/test_login.py.)"""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from vault import Settings, Vault
from vault.deployments import DeploymentCapReached, DeploymentStore

FIELDS = {"repo_id": "org/m", "revision": "a" * 40, "kind": "vllm", "name": "kriptik-m"}


async def test_caps_set_on_one_instance_hold_on_both_at_once(
    vault: Vault, settings: Settings
) -> None:
    other = await Vault.open(settings)
    try:
        user = (await vault.users.create("ann", SecretStr("correct-horse-1"))).id
        await vault.limits.set_by_admin(user, max_live=2)
        caps = (await other.limits.effective(user)).caps  # what the other instance reads
        assert caps.max_live == 2
        stores = [DeploymentStore(v.sessions) for v in (vault, other)]
        results = await asyncio.gather(
            *(stores[i % 2].create(user, caps=caps, **FIELDS) for i in range(6)),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(results) - len(refused) == 2
        assert all(isinstance(r, DeploymentCapReached) for r in refused), refused
        assert len(await stores[1].list(user)) == 2
    finally:
        await other.close()
