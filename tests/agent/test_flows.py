"""Agent flows end to end: scripted model (FunctionModel, plain and streaming), real tools,
real provider clients against the loopback fakes, real vault, audit and history."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart

from agent.events import Approval, Final, Notice, Question, ToolFinished, ToolStarted
from agent.history import SqlConversationStore
from agent.scripted import Call, Reply, ScriptedInteraction, ScriptedModel
from tests.agent.conftest import Chat
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY
from vault import Vault

REPO = "kriptik-test/tiny-llama"
INSPECT = Call(tool="inspect_model", args={"repo_id": REPO})
CHECK = Call(tool="check_credential", args={"provider": "runpod"})
ASK = Call(tool="request_api_key", args={"provider": "runpod", "reason": "to create the endpoint"})
CHOOSE = Call(tool="choose_gpu", args={"repo_id": REPO})
CREATE = Call(tool="create_runpod_endpoint", args={"repo_id": REPO, "pool": "AMPERE_16"})


def returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [
        p
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart)
    ]


def last_return(messages: list[ModelMessage]) -> ToolReturnPart:
    return returns(messages)[-1]


def steps_of(turn: Any) -> list[tuple[str, str]]:
    """(kind, tool-or-outcome) of every event except text and progress."""
    out: list[tuple[str, str]] = []
    for e in turn.events:
        match e:
            case ToolStarted():
                out.append(("started", e.tool))
            case ToolFinished():
                out.append((e.outcome, e.tool))
            case Question():
                out.append(("question", e.provider))
            case Approval():
                out.append(("approval", e.tool))
            case Notice():
                out.append(("notice", e.level))
            case Final():
                out.append(("final", e.status))
            case _:
                pass
    return out


async def tool_rows(vault: Vault) -> list[tuple[str | None, str, str | None]]:
    rows = await vault.audit.records()
    return [(r.tool, r.outcome, r.approved_by) for r in rows if r.kind == "tool"]


async def test_happy_path_inspect_key_question_approval(chat: Any, fakes: FakeStack) -> None:
    c: Chat = chat(
        [INSPECT, CHECK, ASK, CHOOSE, CREATE, Reply(text="The endpoint step is next.")],
        secrets=[DEFAULT_KEY],
        approvals=[True],
    )
    turn = await c.turn(f"Deploy {REPO}")

    assert steps_of(turn) == [
        ("started", "inspect_model"), ("success", "inspect_model"),
        ("started", "check_credential"), ("success", "check_credential"),
        ("started", "request_api_key"), ("question", "runpod"), ("success", "request_api_key"),
        ("started", "choose_gpu"), ("success", "choose_gpu"),
        ("started", "create_runpod_endpoint"), ("approval", "create_runpod_endpoint"),
        # Approved; no pipeline runs in this process (tests/pipeline covers the real run).
        ("failed", "create_runpod_endpoint"),
        ("final", "done"),
    ]  # fmt: skip
    [question] = turn.of(Question)
    assert question.env_name == "RUNPOD_API_KEY" and question.scopes == ["Read/Write"]
    assert question.keys_url.startswith("https://www.runpod.io/") and question.attempt == 1
    [approval] = turn.of(Approval)
    assert approval.price == "$0.58/h per worker while it runs; nothing while idle (scales to zero)"
    assert (
        "RunPod serverless endpoint for kriptik-test/tiny-llama on 1 x 16 GB (AMPERE_16)"
        in approval.creates[0]
    )
    finished = {e.tool: e for e in turn.of(ToolFinished)}
    assert finished["request_api_key"].summary == "RUNPOD_API_KEY stored"
    assert "pipeline is not running" in finished["create_runpod_endpoint"].summary
    assert turn.final.text == "The endpoint step is next."
    # Six model requests: one per step of the pipeline so far, and the closing reply.
    assert turn.final.usage.requests == 6 == len(c.model.requests)

    view = await c.vault.credentials.describe(c.user.id, "runpod")
    assert view.validation_ok is True
    assert fakes.runpod.calls_to("GET /v2/serverless") and fakes.runpod.calls_to(
        "GET /v2/catalog/gpus"
    )
    assert await tool_rows(c.vault) == [
        ("inspect_model", "success", None), ("check_credential", "success", None),
        ("request_api_key", "success", "ann"), ("choose_gpu", "success", None),
        ("create_runpod_endpoint", "failed", "ann"),
    ]  # fmt: skip
    log = c.vault.audit
    models = [r for r in await log.records() if r.kind == "model"]
    assert len(models) == 6 and all(r.model == "scripted" for r in models)
    assert (await log.verify()).ok

    history = await SqlConversationStore(c.vault.sessions).load(c.thread_id, scope=c.user.id)
    assert history is not None
    assert [p.content for p in returns(history.messages) if p.tool_name == "request_api_key"] == [
        "RUNPOD_API_KEY stored"
    ]


async def test_approval_denied(chat: Any, fakes: FakeStack) -> None:
    def after_denial(messages: list[ModelMessage]) -> Reply:
        denied = last_return(messages)
        assert denied.outcome == "denied" and "not now" in str(denied.content)
        return Reply(text="Understood, nothing was created.")

    c: Chat = chat([CREATE, after_denial], approvals=[False])
    turn = await c.turn("create it")
    assert steps_of(turn) == [
        ("started", "create_runpod_endpoint"), ("approval", "create_runpod_endpoint"),
        ("denied", "create_runpod_endpoint"), ("final", "done"),
    ]  # fmt: skip
    assert await tool_rows(c.vault) == [("create_runpod_endpoint", "denied", None)]
    [row] = [r for r in await c.vault.audit.records() if r.kind == "tool"]
    assert row.summary == "denied by ann: not now" and '"pool": "AMPERE_16"' in (row.args or "")


async def test_question_cancelled(chat: Any) -> None:
    def after_cancel(messages: list[ModelMessage]) -> Reply:
        cancelled = last_return(messages)
        assert cancelled.outcome == "failed"
        assert "did not provide a RunPod key" in str(cancelled.content)
        return Reply(text="No problem; add it when you are ready.")

    c: Chat = chat([ASK, after_cancel], secrets=[None])
    turn = await c.turn("set up runpod")
    assert steps_of(turn) == [
        ("started", "request_api_key"), ("question", "runpod"), ("failed", "request_api_key"),
        ("final", "done"),
    ]  # fmt: skip
    assert not await c.vault.credentials.has(c.user.id, "runpod")
    assert await tool_rows(c.vault) == [("request_api_key", "denied", None)]


async def test_a_rejected_key_is_asked_for_again_with_the_reason(chat: Any) -> None:
    c: Chat = chat([ASK, Reply(text="Stored.")], secrets=["rpa_WRONG" + "x" * 40, DEFAULT_KEY])
    turn = await c.turn("set up runpod")
    first, second = turn.of(Question)
    assert first.problem is None and second.attempt == 2
    assert second.problem and "RunPod" in second.problem and "401" in second.problem
    assert turn.of(ToolFinished)[0].outcome == "success"
    assert (await c.vault.credentials.describe(c.user.id, "runpod")).validation_ok is True


async def test_model_retry_on_a_bad_repo_id(chat: Any) -> None:
    def after_retry(messages: list[ModelMessage]) -> Call:
        retried = last_return(messages)
        assert retried.outcome == "retried" and "owner/name" in str(retried.content)
        return INSPECT

    c: Chat = chat(
        [
            Call(tool="inspect_model", args={"repo_id": "not a repo id"}),
            after_retry,
            Reply(text="ok"),
        ]
    )
    turn = await c.turn("inspect it")
    assert [(e.tool, e.outcome) for e in turn.of(ToolFinished)] == [
        ("inspect_model", "retried"), ("inspect_model", "success"),
    ]  # fmt: skip
    assert [o for _, o, _ in await tool_rows(c.vault)] == ["retried", "success"]


async def test_a_provider_401_mid_run_makes_the_agent_ask_for_a_new_key(
    chat: Any, fakes: FakeStack
) -> None:
    def after_401(messages: list[ModelMessage]) -> Call:
        failed = last_return(messages)
        assert failed.outcome == "failed"
        assert "RunPod rejected" in str(failed.content) or "401" in str(failed.content)
        assert "request_api_key with provider 'runpod'" in str(failed.content)
        return Call(
            tool="request_api_key",
            args={"provider": "runpod", "reason": "the stored key was rejected"},
        )

    c: Chat = chat([CHOOSE, after_401, CHOOSE, Reply(text="Priced.")], secrets=[DEFAULT_KEY])
    revoked = "rpa_REVOKED" + "0" * 37
    await c.vault.credentials.add(c.user.id, "runpod", SecretStr(revoked))
    turn = await c.turn(f"price {REPO}")
    assert [(e.tool, e.outcome) for e in turn.of(ToolFinished)] == [
        ("choose_gpu", "failed"), ("request_api_key", "success"), ("choose_gpu", "success"),
    ]  # fmt: skip
    assert [call.status for call in fakes.runpod.calls_to("GET /v2/catalog/gpus")] == [401, 200]
    assert turn.final.status == "done"


async def test_a_key_refused_mid_tool_shows_as_rejected_on_the_keys_panel(
    chat: Any, fakes: FakeStack
) -> None:
    c: Chat = chat([CHOOSE, Reply(text="RunPod refused the key.")])
    revoked = "rpa_REVOKED" + "0" * 37
    await c.vault.credentials.add(c.user.id, "runpod", SecretStr(revoked))
    assert (await c.vault.credentials.describe(c.user.id, "runpod")).validation_ok is None
    turn = await c.turn(f"price {REPO}")
    assert [(e.tool, e.outcome) for e in turn.of(ToolFinished)] == [("choose_gpu", "failed")]
    view = await c.vault.credentials.describe(c.user.id, "runpod")
    assert view.validation_ok is False
    assert view.validation_message and "refused the key" in view.validation_message
    assert revoked not in view.validation_message


async def test_the_usage_limit_is_per_turn_and_stops_a_runaway_turn(
    chat: Any, agent_settings: Any
) -> None:
    c: Chat = chat([INSPECT, Reply(text="one")])
    c.settings = agent_settings.model_copy(update={"agent_request_limit": 2})
    assert (await c.turn("first")).final.status == "done"  # two requests: at the limit
    c.model = ScriptedModel([INSPECT, INSPECT, INSPECT, Reply(text="never")])
    turn = await c.turn("loop")  # the thread has used 2 already; this turn gets its own 2
    assert steps_of(turn)[-2:] == [("notice", "warning"), ("final", "usage_limit")]
    assert "limit" in turn.of(Notice)[0].text and len(c.model.requests) == 2
    # The stopped turn left no half-written history; the next turn starts cleanly.
    c.model = ScriptedModel([Reply(text="fresh start")])
    again = await c.turn("hello")
    assert again.final.status == "done" and again.final.text == "fresh start"
    stored = await SqlConversationStore(c.vault.sessions).load(c.thread_id)
    assert stored is not None and stored.usage.requests == 3


async def test_a_restart_between_turns_resumes_the_history(
    chat: Any, agent_settings: Any, user: Any, http: Any
) -> None:
    first: Chat = chat([INSPECT, Reply(text="It is a tiny llama.")])
    await first.turn(f"What is {REPO}?")
    await first.vault.close()

    seen: list[list[ModelMessage]] = []

    def remembers(messages: list[ModelMessage]) -> Reply:
        seen.append(messages)
        return Reply(text="As I said, tiny.")

    reopened = await Vault.open(agent_settings)  # a new process: nothing shared but the DB
    try:
        second = Chat(
            agent_settings, reopened, user, http, ScriptedModel([remembers]), ScriptedInteraction()
        )
        turn = await second.turn("And how big is it?")
    finally:
        await reopened.close()
    assert turn.final.text == "As I said, tiny."
    prompts = [p.content for m in seen[0] if isinstance(m, ModelRequest) for p in m.parts
               if isinstance(p, UserPromptPart)]  # fmt: skip
    assert prompts == [f"What is {REPO}?", "And how big is it?"]
    assert [p.tool_name for p in returns(seen[0])] == ["inspect_model"]


async def test_another_users_thread_is_refused(chat: Any, agent_vault: Vault) -> None:
    from pydantic import SecretStr

    ann: Chat = chat([Reply(text="hello ann")])
    await ann.turn("hi")
    bob = await agent_vault.users.create("bob", SecretStr("another long password"))
    intruder = Chat(ann.settings, agent_vault, bob, ann.http, ScriptedModel([Reply(text="x")]),
                    ScriptedInteraction(), thread_id=ann.thread_id)  # fmt: skip
    turn = await intruder.turn("show me")
    assert turn.final.status == "failed" and "belongs to another user" in turn.of(Notice)[0].text
    assert intruder.model.requests == []


async def test_three_rejected_keys_end_the_question_with_the_reason(chat: Any) -> None:
    wrong = ["rpa_WRONG" + str(n) * 40 for n in range(3)]
    c: Chat = chat([ASK, Reply(text="That key did not work.")], secrets=wrong)
    turn = await c.turn("set up runpod")
    assert [q.attempt for q in turn.of(Question)] == [1, 2, 3]
    [finished] = turn.of(ToolFinished)
    assert finished.outcome == "failed" and "The RunPod key was not stored" in finished.summary
    assert await tool_rows(c.vault) == [("request_api_key", "failed", None)]
    assert not await c.vault.credentials.has(c.user.id, "runpod")
