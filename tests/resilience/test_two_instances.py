"""Two KripTik instances on one PostgreSQL database, as docs/deploy.md describes them.

1. Two `kriptik serve` processes share the database, the master key and the login
   secret: a session made on one works on the other; each user sees their own threads,
   keys and deployments from either instance, and nobody else's.
2. Deployments run in the instances' DBOS executors, one executor id per instance. An
   instance killed mid-deployment leaves it PENDING under its own id; the other instance
   sees it (record and workflow) and leaves it alone; when the killed instance restarts,
   DBOS recovers it there, and it completes with one template and one endpoint, which
   the other instance observes.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.conftest import new_master_key
from tests.e2e.chat_client import ChatClient
from tests.pipeline.fakes import DeployRunPodFake
from tests.resilience.processes import Host, host_env
from tests.services.kriptik import Server, serve
from tools.simulator.all import FakeStack
from tools.simulator.huggingface import DEFAULT_TOKEN
from tools.simulator.runpod import DEFAULT_KEY
from vault import Settings, UserView, Vault
from vault.deployments import DeploymentCaps, DeploymentStore

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def shared(database: str) -> dict[str, str]:
    """What every instance shares: the database, the master key, the login secret."""
    return {"KRIPTIK_DATABASE_URL": database, "KRIPTIK_MASTER_KEY": new_master_key(),
            "KRIPTIK_AUTH_SECRET": new_master_key()}  # fmt: skip


@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    running = FakeStack(runpod=DeployRunPodFake()).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def instances(
    shared: dict[str, str], stack: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """Two `kriptik serve` processes, configured alike (as behind one load balancer)."""
    root = tmp_path_factory.mktemp("instances")
    urls = {f"KRIPTIK_{k.upper()}": v for k, v in stack.settings_fields().items()}
    env = shared | urls | {"HF_HUB_OFFLINE": "0"}
    with (
        serve(root / "a", **env, KRIPTIK_INSTANCE_ID="web-a") as a,
        serve(root / "b", **env, KRIPTIK_INSTANCE_ID="web-b") as b,
    ):
        yield a, b


@pytest.fixture(scope="module")
async def vault(shared: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
                instances: tuple[Server, Server]) -> AsyncIterator[Vault]:  # fmt: skip
    opened = await Vault.open(Settings(
        home=tmp_path_factory.mktemp("tests"), database_url=shared["KRIPTIK_DATABASE_URL"],
        master_key=SecretStr(shared["KRIPTIK_MASTER_KEY"]),
    ))  # fmt: skip
    yield opened
    await opened.close()


@pytest.fixture(scope="module")
async def users(vault: Vault) -> dict[str, UserView]:
    return {name: await vault.users.create(name, SecretStr(PASSWORD)) for name in ("ann", "bob")}


async def _panel(client: ChatClient, command: str, name: str) -> dict[str, Any]:
    """Run a /command and return the props of the panel it shows."""
    after = len(client.events)
    await client.send(f"/{command}")
    _, element = await client.wait_for(
        lambda e: e[0] == "element" and e[1].get("name") == name, after=after
    )
    return element["props"]


async def test_each_user_sees_their_own_from_either_instance(
    instances: tuple[Server, Server], vault: Vault, users: dict[str, UserView]
) -> None:
    a, b = instances
    ann_key = SecretStr("rpa_" + "AnnKey00" * 5)
    await vault.credentials.add(users["ann"].id, "runpod", ann_key)
    [masked] = [v.masked for v in await vault.credentials.list(users["ann"].id)]
    await DeploymentStore(vault.sessions).create(
        users["ann"].id, caps=DeploymentCaps(max_live=2, max_workers=3, max_gpus=2),
        repo_id="kriptik-test/tiny-llama",
        revision="0" * 40, kind="vllm", name="kriptik-tiny-shared", gpu_pools=["ADA_24"],
        gpu_count=1, workers_min=0, workers_max=1, idle_timeout_s=5, usd_per_second=0.0003,
        plan={}, state="ready", endpoint_id="ep-shared",
    )  # fmt: skip

    ann_a = ChatClient(a.url, "ann", PASSWORD)
    await ann_a.connect()
    keys = await _panel(ann_a, "keys", "KeysPanel")
    assert [k["masked"] for k in keys["keys"]] == [masked]
    await ann_a.send("hello")
    _, first = await ann_a.wait_for(lambda e: e[0] == "first_interaction")
    thread_id = str(first["thread_id"])

    # The session made on A works on B (one login secret), and B serves A's data.
    ann_b = ChatClient(b.url, "ann", PASSWORD)
    ann_b._token = ann_a._token
    await ann_b.connect()
    deployments = await _panel(ann_b, "deployments", "DeploymentsPanel")
    assert [d["detail"].split(" · ")[0] for d in deployments["deployments"]] == ["ep-shared"]
    assert [k["masked"] for k in (await _panel(ann_b, "keys", "KeysPanel"))["keys"]] == [masked]
    async with httpx.AsyncClient(base_url=b.url, cookies={"access_token": ann_a._token}) as http:
        listed = await http.post(
            "/project/threads", json={"pagination": {"first": 20}, "filter": {}}
        )
        stored = await http.get(f"/project/thread/{thread_id}")
    assert stored.status_code == 200 and listed.status_code == 200

    for server in (a, b):  # bob, on either instance: none of ann's
        bob = ChatClient(server.url, "bob", PASSWORD)
        await bob.connect()
        assert (await _panel(bob, "keys", "KeysPanel"))["keys"] == []
        assert (await _panel(bob, "deployments", "DeploymentsPanel"))["deployments"] == []
        async with httpx.AsyncClient(
            base_url=server.url, cookies={"access_token": bob._token}
        ) as http:
            assert (await http.get(f"/project/thread/{thread_id}")).status_code in {401, 403, 404}
            listed = await http.post(
                "/project/threads", json={"pagination": {"first": 20}, "filter": {}}
            )
            assert thread_id not in json.dumps(listed.json())
        await bob.disconnect()
    await ann_a.disconnect()
    await ann_b.disconnect()


async def test_a_killed_instance_recovers_its_deployment_and_the_other_sees_it(
    shared: dict[str, str],
    stack: FakeStack,
    tmp_path: Path,
    users: dict[str, UserView],
    vault: Vault,
    instances: tuple[Server, Server],
) -> None:
    """The instances are all configured alike, so a recovered workflow may run on whichever
    instance takes it from DBOS's queue first; it runs once, and everyone sees it."""
    stack.reset()
    runpod = stack.runpod
    assert isinstance(runpod, DeployRunPodFake)
    settings = Settings(
        home=tmp_path / "pipeline", database_url=shared["KRIPTIK_DATABASE_URL"],
        master_key=SecretStr(shared["KRIPTIK_MASTER_KEY"]), **stack.settings_fields(),
    )  # fmt: skip
    bob = users["bob"].id
    await vault.credentials.add(bob, "runpod", SecretStr(DEFAULT_KEY))
    await vault.credentials.add(bob, "huggingface", SecretStr(DEFAULT_TOKEN))
    env = host_env(settings)

    runpod.hold()  # workers stay initializing: the deployment waits, durably
    a = await Host.start(env, "instance-a", "deploy", bob)
    assert (await a.next())["launched"]
    deployment_id = (await a.next())["deployment_id"]
    assert await asyncio.to_thread(runpod.polled.wait, 120)
    a.proc.send_signal(signal.SIGKILL)
    assert await a.proc.wait() == -signal.SIGKILL

    b = await Host.start(env, "instance-b", "watch", deployment_id)
    try:
        assert (await b.next())["launched"]
        seen = await b.ask()  # the other instances leave it alone: it is instance-a's
        assert seen == {"state": "waiting", "endpoint_id": seen["endpoint_id"],
                        "workflow": "PENDING", "executor": "instance-a"}  # fmt: skip
        runpod.release()
        a = await Host.start(env, "instance-a", "recover", deployment_id)
        assert (await a.next())["launched"]
        assert await a.next() == {"outcome": "ready"}
        assert await a.proc.wait() == 0
        done = await b.ask()
    finally:
        await b.stop()
    assert {k: done[k] for k in ("state", "endpoint_id", "workflow")} == {
        "state": "ready", "endpoint_id": seen["endpoint_id"], "workflow": "SUCCESS"}  # fmt: skip
    assert done["executor"] in {"instance-a", "instance-b", "web-a", "web-b"}
    assert len(runpod.state.templates) == 1 and len(runpod.state.endpoints) == 1
    assert len(runpod.calls_to("POST /v2/templates")) == 1
    assert len(runpod.calls_to("POST /v2/serverless")) == 1
