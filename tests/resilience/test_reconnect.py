"""The users of an instance that dies mid-deployment carry on on another instance.

Two `kriptik serve` processes share one PostgreSQL database, the master key and the login
secret, with short heartbeat settings; the chat model is the simulated assistant
(`tools.simulator.assistant`) and the providers are the loopback fakes. Ann and Bob, on
A, each say hello, then deploy a model through the chat and approve the card. While the
endpoints' workers are still starting, A is SIGKILLed for good. Each logs in to B and
reopens their thread (Chainlit's resume, through our data layer), as the browser does
after a reload:

- (a) the thread B sends back holds their earlier messages and the assistant's replies;
- (b) the deployment's Progress panel comes back, re-attached, and reaches "done": Ann's
  while she watches (she is back before the workers are up; B takes A's workflows over
  and finishes them), Bob's at once (he is back only after his deployment is ready: the
  panel A left "running" catches up). /deployments on B shows Ann's deployment ready, and
  RunPod holds one template and one endpoint for each.

The test waits on events and on the database's and the fakes' state, never on time.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from agent.llm import LOCAL_KEY
from tests.conftest import new_master_key
from tests.e2e.chat_client import ChatClient, Event
from tests.pipeline.fakes import DeployRunPodFake
from tests.services.kriptik import Server, serve
from tools.simulator import assistant
from tools.simulator._assistant_words import HELP
from tools.simulator.all import FakeStack
from tools.simulator.huggingface import DEFAULT_TOKEN
from tools.simulator.llm import LlmFake
from tools.simulator.runpod import DEFAULT_KEY
from tools.simulator.server import ServedApp
from vault import Settings, Vault
from vault.deployments import DeploymentStore
from vault.instances import InstanceStore

PASSWORD = "correct horse battery staple"
USERS = ("ann", "bob")
MODEL = "kriptik-test/tiny-llama"
DEPLOY = f"Deploy {MODEL} as an API"
# Short for a test, yet well above the longest a live instance's heartbeat stays silent
# here: its event loop stalls for seconds on a busy machine while the first turn loads the
# agent's libraries, and a peer must not take a live instance's deployments over.
FAST = {"KRIPTIK_HEARTBEAT_INTERVAL_S": "0.5", "KRIPTIK_INSTANCE_TIMEOUT_S": "8"}


@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    runpod = DeployRunPodFake()
    runpod.hold()  # workers stay starting (and have logs to read) until the test releases them
    running = FakeStack(runpod=runpod).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def llm_url() -> Iterator[str]:
    served = ServedApp(LlmFake(keys={LOCAL_KEY}, assistant=assistant.answer))
    yield served.url
    served.stop()


@pytest.fixture(scope="module")
def shared(database: str) -> dict[str, str]:
    return {"KRIPTIK_DATABASE_URL": database, "KRIPTIK_MASTER_KEY": new_master_key(),
            "KRIPTIK_AUTH_SECRET": new_master_key()}  # fmt: skip


@pytest.fixture(scope="module")
async def vault(shared: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Vault]:  # fmt: skip
    """The shared database, migrated, with Ann and Bob and their RunPod and Hugging Face
    keys."""
    opened = await Vault.open(Settings(
        home=tmp_path_factory.mktemp("tests"), database_url=shared["KRIPTIK_DATABASE_URL"],
        master_key=SecretStr(shared["KRIPTIK_MASTER_KEY"]),
    ))  # fmt: skip
    for name in USERS:
        user = await opened.users.create(name, SecretStr(PASSWORD))
        await opened.credentials.add(user.id, "runpod", SecretStr(DEFAULT_KEY))
        await opened.credentials.add(user.id, "huggingface", SecretStr(DEFAULT_TOKEN))
    yield opened
    await opened.close()


@pytest.fixture(scope="module")
def instances(
    shared: dict[str, str], stack: FakeStack, llm_url: str, vault: Vault,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Server]]:  # fmt: skip
    root = tmp_path_factory.mktemp("instances")
    env = shared | FAST | {f"KRIPTIK_{k.upper()}": v for k, v in stack.settings_fields().items()}
    env |= {"KRIPTIK_LLM_BASE_URL": f"{llm_url}/v1", "KRIPTIK_MODEL": "test/assistant",
            "HF_HUB_OFFLINE": "0"}  # fmt: skip
    with (
        serve(root / "a", **env, KRIPTIK_INSTANCE_ID="web-a") as a,
        serve(root / "b", **env, KRIPTIK_INSTANCE_ID="web-b") as b,
    ):
        yield a, b


async def _approve(client: ChatClient, ask: dict[str, Any]) -> Any:
    """The card's Approve button, as the browser acks it."""
    ask_id = ask["msg"]["id"]
    if ask["spec"]["type"] != "action":
        return {"submitted": False}  # a key question: they have no such key
    return next(d for n, d in client.events
                if n == "action" and d["forId"] == ask_id and d["name"] == "approve")  # fmt: skip


def _turn_ended(event: Event) -> bool:
    """The end of an `on_message` run (a whole turn)."""
    name, data = event
    return name == "update_message" and data.get("name") == "on_message" and bool(data.get("end"))


def _panel(status: str, *, waiting: bool = False) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        name, data = event
        if name != "element" or data.get("name") != "Progress":
            return False
        props = data["props"]
        stages = {s["key"]: s["state"] for s in props["stages"]}
        return props["status"] == status and (not waiting or stages["waiting"] == "running")

    return match


async def _workflow(vault: Vault, deployment_id: str) -> tuple[str, str]:
    async with vault.engine.connect() as conn:
        row = (await conn.execute(
            text("SELECT status, executor_id FROM dbos.workflow_status WHERE workflow_uuid = :id"),
            {"id": deployment_id},
        )).one()  # fmt: skip
    return str(row[0]), str(row[1])


@dataclass
class Left:
    """What a user left on A: their page's client, thread, Progress panel and deployment."""

    name: str
    client: ChatClient
    thread_id: str
    panel_id: str
    deployment_id: str = ""


async def _deploy_on(a: Server, name: str) -> Left:
    """The user says hello, then deploys; returns once the workers are starting (the
    endpoint exists)."""
    client = ChatClient(a.url, name, PASSWORD, on_ask=_approve)
    await client.connect()
    await client.send("hello")
    await client.wait_for(_turn_ended)
    mark = len(client.events)
    await client.send(DEPLOY)
    _, shown = await client.wait_for(_panel("running", waiting=True), after=mark, within_s=90)
    return Left(name, client, str(shown["threadId"]), str(shown["id"]))


async def _back_on(b: Server, left: Left) -> ChatClient:
    """The user logs in to B and reopens their thread: it holds what they said on A."""
    client = ChatClient(b.url, left.name, PASSWORD, on_ask=_approve)
    await client.connect(thread_id=left.thread_id)
    _, resumed = await client.wait_for(lambda e: e[0] == "resume_thread")
    steps = resumed["steps"]
    said = [s["output"] for s in steps if s["type"] == "user_message"]
    replies = " ".join(str(s["output"]) for s in steps if s["type"] == "assistant_message")
    assert said == ["hello", DEPLOY]
    assert HELP in replies  # the assistant's answer to "hello", as it was shown on A
    return client


async def _done_panel(client: ChatClient, left: Left) -> None:
    _, done = await client.wait_for(_panel("done"), within_s=120)
    assert done["id"] == left.panel_id and done["props"]["deployment_id"] == left.deployment_id
    stages = {s["key"]: s["state"] for s in done["props"]["stages"]}
    assert stages["waiting"] == "done" and stages["smoke_test"] == "done"


async def _ready(vault: Vault, deployment_id: str) -> None:
    """Until the deployment's record is ready (polling the database's state)."""
    store, loop = DeploymentStore(vault.sessions), asyncio.get_running_loop()
    deadline = loop.time() + 120
    while (view := await store.get(deployment_id, user_id=None)).state != "ready":
        if loop.time() > deadline:
            raise AssertionError(f"deployment {deployment_id} is still {view.state}")
        await asyncio.sleep(0.05)  # a look at the record, not a wait for time to pass


async def test_users_whose_instance_died_see_their_conversation_and_deployment_on_another(
    instances: tuple[Server, Server], stack: FakeStack, vault: Vault
) -> None:
    a, b = instances
    ann, bob = await asyncio.gather(*(_deploy_on(a, name) for name in USERS))
    for left in (ann, bob):
        left.deployment_id = await _deployment_of(vault, left.name)
        assert await _workflow(vault, left.deployment_id) == ("PENDING", "web-a")

    a.process.send_signal(signal.SIGKILL)  # for good: it never comes back
    assert await asyncio.to_thread(a.process.wait) == -signal.SIGKILL
    for left in (ann, bob):
        await asyncio.wait_for(left.client.sio.wait(), 60)  # their pages lost their server

    # Ann is back at once, while her workers are still starting; then they come up, B
    # takes A's workflows over and finishes them, and her panel follows.
    ann_b = await _back_on(b, ann)
    runpod = stack.runpod
    assert isinstance(runpod, DeployRunPodFake)
    runpod.release()
    await _done_panel(ann_b, ann)
    mark = len(ann_b.events)
    await ann_b.send("/deployments")
    _, listed = await ann_b.wait_for(
        lambda e: e[0] == "element" and e[1].get("name") == "DeploymentsPanel", after=mark
    )
    rows = listed["props"]["deployments"]
    assert [(r["id"], r["state"]) for r in rows] == [(ann.deployment_id, "ready")]
    await ann_b.disconnect()

    # Bob is back only once his deployment is ready: the panel A left running catches up.
    await _ready(vault, bob.deployment_id)
    bob_b = await _back_on(b, bob)
    await _done_panel(bob_b, bob)
    await bob_b.disconnect()

    for left in (ann, bob):
        assert await _workflow(vault, left.deployment_id) == ("SUCCESS", "web-b")
        for route in ("POST /v2/templates", "POST /v2/serverless"):
            names = [json.loads(c.body)["name"] for c in runpod.calls_to(route)]
            assert sum(left.deployment_id in n for n in names) == 1, (route, names)
    [dead] = [r for r in await InstanceStore(vault.sessions).list() if r.instance_id == "web-a"]
    assert dead.claimed_by == "web-b" and dead.recovered_at is not None
    assert len(runpod.state.templates) == 2 and len(runpod.state.endpoints) == 2
    stack.assert_clean()


async def _deployment_of(vault: Vault, name: str) -> str:
    """The user's one deployment (the chat made exactly one)."""
    user = await vault.users.get(name)
    assert user is not None
    [view] = await DeploymentStore(vault.sessions).list(user.id)
    return view.id
