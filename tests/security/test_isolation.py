"""Cross-user access, at the system of record, on SQLite and on PostgreSQL: one user can
never read, use, change or remove another's keys, deployments, conversations, chat
threads or spend. (The same over HTTP and the socket: tests/security/test_http.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from pydantic_ai.conversation import Conversation
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart
from sqlalchemy import update

from agent.history import SqlConversationStore
from tests.security.canary import Canary
from tools.pipeline import api
from tools.pipeline.durable import DeploymentPipeline
from tools.pipeline.services import PipelineServices
from vault import CredentialNotFound, DecryptError, Settings, UserView, Vault
from vault.chat import ChatStore
from vault.deployments import DeploymentCaps, DeploymentNotFound, DeploymentStore
from vault.models import Credential, utcnow

KEY = SecretStr("rpa_" + "AnnsKey0" * 5)


@pytest.fixture
async def ann(vault: Vault) -> UserView:
    return await vault.users.create("ann", SecretStr("correct horse battery staple"))


@pytest.fixture
async def bob(vault: Vault) -> UserView:
    return await vault.users.create("bob", SecretStr("correct horse battery staple"))


async def test_keys_belong_to_their_user(vault: Vault, ann: UserView, bob: UserView) -> None:
    await vault.credentials.add(ann.id, "runpod", KEY)
    assert not await vault.credentials.has(bob.id, "runpod")
    assert await vault.credentials.list(bob.id) == []
    for attempt in (
        vault.credentials.get(bob.id, "runpod"),
        vault.credentials.describe(bob.id, "runpod"),
        vault.credentials.remove(bob.id, "runpod"),
    ):
        with pytest.raises(CredentialNotFound):
            await attempt
    assert (
        await vault.credentials.get(ann.id, "runpod")
    ).get_secret_value() == KEY.get_secret_value()


async def test_a_key_row_moved_to_another_user_does_not_decrypt(
    vault: Vault, ann: UserView, bob: UserView
) -> None:
    """Someone with write access to the database moves ann's row to bob: AES-GCM's
    associated data binds the ciphertext to its owner, so it will not open for him."""
    await vault.credentials.add(ann.id, "runpod", KEY)
    async with vault.sessions.begin() as session:
        await session.execute(update(Credential).values(user_id=bob.id))
    with pytest.raises(DecryptError):
        await vault.credentials.get(bob.id, "runpod")


async def _deployment(vault: Vault, owner: UserView) -> str:
    view = await DeploymentStore(vault.sessions).create(
        owner.id, caps=DeploymentCaps(max_live=2, max_workers=3, max_gpus=2),
        repo_id="kriptik-test/tiny", revision="0" * 40,
        kind="vllm", name="kriptik-tiny-x", gpu_pools=["ADA_24"], gpu_count=1, workers_min=0,
        workers_max=1, idle_timeout_s=5, usd_per_second=0.0003, plan={}, state="ready",
        endpoint_id="ep-ann", template_id="tpl-ann",
    )  # fmt: skip
    return view.id


@pytest.fixture
async def runpod_canary(settings: Settings) -> AsyncIterator[tuple[Settings, Canary]]:
    with Canary.serving() as canary:
        yield settings.model_copy(update={"runpod_rest_base_url": canary.url + "/v2"}), canary


async def test_deployments_belong_to_their_user(
    vault: Vault, ann: UserView, bob: UserView, runpod_canary: tuple[Settings, Canary]
) -> None:
    settings, runpod = runpod_canary
    await vault.credentials.add(bob.id, "runpod", SecretStr("rpa_" + "BobsKey00" * 5))
    deployment_id = await _deployment(vault, ann)
    store = DeploymentStore(vault.sessions)
    assert await store.list(bob.id) == []
    with pytest.raises(DeploymentNotFound):
        await store.get(deployment_id, user_id=bob.id)
    async with httpx.AsyncClient(trust_env=False) as http:
        services = PipelineServices(settings=settings, vault=vault, http=http)
        with pytest.raises(DeploymentNotFound):
            await api.deployment_status(services, bob.id, deployment_id)
        pipeline = DeploymentPipeline(services)  # never launched: refused before DBOS
        try:
            with pytest.raises(DeploymentNotFound):
                await api.teardown(pipeline, bob.id, deployment_id)
        finally:
            pipeline.release()
    assert runpod.requests == []  # refused before any provider call, with anyone's key
    assert (await store.get(deployment_id, user_id=ann.id)).state == "ready"


def _conversation(thread_id: str, text: str) -> Conversation:
    return Conversation(
        conversation_id=thread_id,
        messages=[
            ModelRequest(parts=[UserPromptPart(text)]),
            ModelResponse(parts=[TextPart("ok")]),
        ],
    )


async def test_conversations_belong_to_their_user(
    vault: Vault, ann: UserView, bob: UserView
) -> None:
    store = SqlConversationStore(vault.sessions)
    await store.save(_conversation("thread-a", "ann's secret plan"), scope=ann.id)
    assert await store.load("thread-a", scope=bob.id) is None
    with pytest.raises(Exception):  # noqa: B017 - any refusal; never an overwrite
        await store.save(_conversation("thread-a", "bob was here"), scope=bob.id)
    kept = await store.load("thread-a", scope=ann.id)
    assert kept is not None and "bob was here" not in repr(kept.messages)
    assert [r.conversation_id for r in await store.read_records(scope=bob.id)] == []


async def test_chat_threads_belong_to_their_user(
    vault: Vault, ann: UserView, bob: UserView
) -> None:
    chat = ChatStore(vault.sessions)
    assert await chat.update_thread("thread-a", user_id=ann.id, name="ann's thread")
    assert not await chat.update_thread("thread-a", user_id=bob.id, name="taken")
    assert await chat.thread_owner("thread-a") == (ann.id, "ann")
    rows, _ = await chat.list_threads(bob.id, first=50)
    assert rows == []
    bundle = await chat.get_thread("thread-a")
    assert bundle is not None and bundle.thread.name == "ann's thread"


async def test_a_thread_id_on_another_users_records_is_claimed(
    vault: Vault, ann: UserView, bob: UserView
) -> None:
    """A thread id with no chat row that ann's audit rows, deployment or agent history
    carry (a deleted chat, a `kriptik chat` conversation) is claimed: bob may not take it."""
    await vault.audit.record_tool(
        thread_id="thread-audit", user_id=ann.id, tool="check_credential", tool_call_id="c1",
        args={}, outcome="success", summary="ok",
    )  # fmt: skip
    await DeploymentStore(vault.sessions).create(
        ann.id, caps=DeploymentCaps(max_live=2, max_workers=3, max_gpus=2),
        thread_id="thread-deploy", repo_id="kriptik-test/tiny",
        revision="0" * 40, kind="vllm", name="kriptik-tiny-y", gpu_pools=["ADA_24"],
        gpu_count=1, workers_min=0, workers_max=1, idle_timeout_s=5, usd_per_second=0.0003,
        plan={},
    )  # fmt: skip
    await SqlConversationStore(vault.sessions).save(
        _conversation("thread-history", "ann's plan"), scope=ann.id
    )
    chat = ChatStore(vault.sessions)
    for thread_id in ("thread-audit", "thread-deploy", "thread-history"):
        assert await chat.claimed_by_others(thread_id, bob.id), thread_id
        assert not await chat.claimed_by_others(thread_id, ann.id), thread_id
    assert not await chat.claimed_by_others("thread-new", bob.id)


async def test_chat_feedback_is_given_and_removed_only_by_the_threads_owner(
    vault: Vault, ann: UserView, bob: UserView
) -> None:
    chat = ChatStore(vault.sessions)
    await chat.update_thread("thread-a", user_id=ann.id, name="ann's thread")
    await chat.upsert_step("s1", "thread-a", {"type": "assistant_message"})
    voted = await chat.upsert_feedback("f1", for_id="s1", value=1, comment=None, user_id=ann.id)
    assert voted == "f1"
    for thread_id in (None, "thread-a"):
        assert (
            await chat.upsert_feedback(
                "f2", for_id="s1", value=0, comment="bob", thread_id=thread_id, user_id=bob.id
            )
            is None
        )
    assert not await chat.delete_feedback("f1", user_id=bob.id)
    bundle = await chat.get_thread("thread-a")
    assert bundle is not None and bundle.feedback["s1"].value == 1
    assert bundle.feedback["s1"].comment is None
    assert await chat.delete_feedback("f1", user_id=ann.id)


async def test_spend_is_counted_per_user(vault: Vault, ann: UserView, bob: UserView) -> None:
    audit = vault.audit
    await audit.record_model_request(
        thread_id="thread-a", user_id=ann.id, model="m", input_tokens=10, output_tokens=5,
        cost_usd=Decimal("1.25"), started_at=utcnow(),
    )  # fmt: skip
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    assert await audit.cost_since(ann.id, midnight) == Decimal("1.25")
    assert await audit.cost_since(bob.id, midnight) == 0


async def test_the_audit_panel_shows_only_the_callers_rows(
    vault: Vault, ann: UserView, bob: UserView, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ui.audit_panel import capture_audit_panel
    from ui.web import reports

    audit = vault.audit
    await audit.record_tool(
        thread_id="thread-a", user_id=ann.id, tool="check_credential", tool_call_id="c1",
        args={"provider": "runpod"}, outcome="success", summary="ann's key is valid",
    )  # fmt: skip
    shown = capture_audit_panel(monkeypatch)
    await reports.show_audit(audit, thread_id="thread-a", is_admin=False, user_id=bob.id)
    rows = [row for element in shown for row in element.get("props", {}).get("rows", [])]
    assert rows == [] and not any("file" in element for element in shown)  # bob, on ann's id
    shown.clear()
    await reports.show_audit(audit, thread_id="thread-a", is_admin=False, user_id=ann.id)
    rows = [row for element in shown for row in element.get("props", {}).get("rows", [])]
    assert [row["outcome"] for row in rows] == ["success"]
    assert sum("file" in element for element in shown) == 2  # ann's own downloads
