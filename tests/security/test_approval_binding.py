"""An approval binds the plan (DESIGN.md, "Approvals"): the card is made from the arguments
as the tool receives them, stored under the tool call's id, and the approved call runs
exactly that card. A compromised model (scripted to send what a hijacked one would) calls
each gated tool with arguments chosen to make the card and what runs differ; they cannot:

- `private: "false"`, `0`, `"no"`, `"off"`: the card says PUBLIC, and so is the repo (and
  `"true"`, `1`, `"yes"`, `"on"`, or nothing: private); anything else is refused unasked;
- numbers sent as strings reach RunPod as the card showed them;
- the Hub repo changes while the card is open: nothing is created from the old card; a new
  card names what changed, and RunPod receives exactly that card, or nothing;
- a price changes while the card is open: nothing is spent, and a new card names it;
- Vercel and Netlify get the project or site name and the variable names on the card;
- teardown deletes the deployment its card named; one that changed meanwhile is asked again;
- a call approved without its card runs nothing.

The world is real but for the providers (loopback fakes) and the model: the agent's turn,
its hooks and audit, the vault and the DBOS deployment pipeline (tests/security/approval_world.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic_ai import Agent, DeferredToolRequests, Tool
from pydantic_ai.messages import ModelRequest, ToolReturnPart

from agent.events import Notice
from agent.scripted import Call, Reply
from tests.security.approval_world import (
    MOVING,
    BareDeps,
    User,
    World,
    endpoint_data,
    finished,
    grow_the_model,
    nothing_spent,
    outcomes,
    recorded_deployment,
)
from tests.tool_calls_model import calls_then_done
from tools import app_tools
from tools.cards import GpuTerms
from tools.publish.service import LivePublishing
from tools.simulator import hf_repos
from tools.simulator import runpod as runpod_fake
from tools.sizing import pool_label
from vault.deployments import DeploymentStore

TINY = "kriptik-test/tiny-llama"
OMITTED = object()


@pytest.mark.parametrize(
    ("sent", "private"),
    [("false", False), (0, False), ("no", False), ("off", False), (False, False),
     ("true", True), (1, True), ("yes", True), ("on", True), (OMITTED, True)],
)  # fmt: skip
async def test_a_repo_is_exactly_as_private_as_its_card_said(
    world: World, sent: object, private: bool
) -> None:
    endpoint = await recorded_deployment(world)
    args: dict[str, Any] = {"endpoint_id": endpoint, "repo_name": "tiny-chat"}
    if sent is not OMITTED:
        args["private"] = sent
    user = User(True)
    events = await world.turn([Call(tool="push_to_github", args=args), Reply(text="ok")], user)
    [card] = user.cards
    assert card.args == {"endpoint_id": endpoint, "repo_name": "tiny-chat", "private": private}
    assert card.facts["visibility"] == ("private" if private else "public")
    assert ("PUBLIC" in card.creates[0]) is not private and (
        "PUBLIC" in card.summary
    ) is not private
    assert outcomes(events) == [("push_to_github", "success")]
    github = world.stack.github
    [(owner, name)] = github.repos
    assert name == card.facts["repository"] == "tiny-chat"
    assert github.repos[(owner, name)].private is private
    [created] = github.calls_to("POST /user/repos")
    assert created.json()["private"] is private


@pytest.mark.parametrize("sent", ["maybe", 2, "", None])
async def test_a_visibility_that_is_not_a_yes_or_no_is_refused_unasked(
    world: World, sent: object
) -> None:
    endpoint = await recorded_deployment(world)
    args = {"endpoint_id": endpoint, "repo_name": "tiny-chat", "private": sent}
    user = User(True)
    events = await world.turn([Call(tool="push_to_github", args=args), Reply(text="ok")], user)
    assert user.cards == [] and outcomes(events) == [("push_to_github", "retried")]
    assert world.stack.github.repos == {} and world.stack.github.calls_to("POST /user/repos") == []


@pytest.mark.parametrize("host", ["vercel", "netlify"])
async def test_the_web_host_gets_the_name_and_variables_on_the_card(
    world: World, host: str
) -> None:
    endpoint = await recorded_deployment(world)
    name_arg = "project_name" if host == "vercel" else "site_name"
    args = {"endpoint_id": endpoint, name_arg: "tiny-chat"}
    user = User(True)
    events = await world.turn([Call(tool=f"deploy_{host}", args=args), Reply(text="ok")], user)
    [card] = user.cards
    assert card.args == args and card.facts["endpoint"] == endpoint
    shown = card.facts["server-side variables"].split(", ")
    assert shown == ["RUNPOD_API_KEY", "RUNPOD_ENDPOINT_ID"]
    assert outcomes(events) == [(f"deploy_{host}", "success")]
    if host == "vercel":
        [project] = world.stack.vercel.state.projects.values()
        assert project["name"] == card.facts["Vercel project"] == "tiny-chat"
        env = {key: var["value"] for key, var in project["_env"].items()}
    else:
        [site] = world.stack.netlify.state.sites.values()
        assert site["name"] == card.facts["Netlify site"] == "tiny-chat"
        netlify: Any = world.stack.netlify
        env = {key: json.dumps(var) for (site_id, key), var in netlify.env.items()}
    assert sorted(env) == shown
    if host == "vercel":
        assert env["RUNPOD_ENDPOINT_ID"] == endpoint


async def test_numbers_sent_as_strings_reach_runpod_as_the_card_showed(world: World) -> None:
    args = {"repo_id": TINY, "pool": "ampere_16", "gpu_count": "1", "workers_min": "0",
            "workers_max": "2"}  # fmt: skip
    user = User(True)
    events = await world.turn(
        [Call(tool="create_runpod_endpoint", args=args), Reply(text="ok")], user
    )
    [card] = user.cards
    assert card.args == {"repo_id": TINY, "pool": "ampere_16", "gpu_count": 1, "workers_min": 0,
                         "workers_max": 2, "target": "runpod", "region": None,
                         "workflow_id": None}  # fmt: skip
    assert card.gpu is not None
    terms = card.gpu.model_dump(include={"pool", "gpu_count", "workers_min", "workers_max"})
    assert GpuTerms.model_validate(terms) == GpuTerms(
        pool="AMPERE_16", gpu_count=1, workers_min=0, workers_max=2
    )
    # The card carries the VRAM band; the pool was chosen on its upper end.
    need, low, high = card.gpu.need_gib, card.gpu.low_gib, card.gpu.high_gib
    assert need is not None and low is not None and high is not None and low <= need <= high
    assert f"GPU chosen for {high:.1f} GiB" in (card.gpu.vram_line() or "")
    assert outcomes(events) == [("create_runpod_endpoint", "success")]
    data = endpoint_data(world)
    assert data["gpu"]["pools"] == ["AMPERE_16"] and data["gpu"]["count"] == 1
    assert (data["workers"]["min"], data["workers"]["max"]) == (0, 2)
    [template] = world.stack.runpod.state.templates.values()
    assert template["env"]["MODEL_REVISION"] == card.facts["revision"]
    assert template["image"] == card.facts["image"]
    [record] = await DeploymentStore(world.vault.sessions).list(world.user_id)
    assert card.facts["price"] == f"${record.usd_per_second * 3600:.4f}/h per running worker"
    assert record.revision == card.facts["revision"] and record.gpu_pools == ["AMPERE_16"]


async def test_a_gpu_count_the_plan_would_not_use_is_refused_unasked(world: World) -> None:
    args = {"repo_id": TINY, "pool": "AMPERE_16", "gpu_count": "2"}
    user = User(True)
    events = await world.turn(
        [Call(tool="create_runpod_endpoint", args=args), Reply(text="ok")], user
    )
    assert user.cards == [] and outcomes(events) == [("create_runpod_endpoint", "denied")]
    assert "needs gpu_count=1" in finished(events, "create_runpod_endpoint").summary
    assert world.stack.runpod.calls_to("POST /v2/serverless") == []


@pytest.mark.parametrize("second", [True, False])
async def test_a_hub_change_under_an_open_card_asks_again_and_runs_only_the_new_card(
    world: World, second: bool
) -> None:
    world.stack.huggingface.add_repo(hf_repos.safetensors_repo(MOVING))
    user = User(True, second, meanwhile={0: grow_the_model(world)})
    call = Call(tool="create_runpod_endpoint", args={"repo_id": MOVING, "pool": "auto"})
    events = await world.turn([call, Reply(text="ok")], user)
    first, again = user.cards
    assert first.gpu is not None and again.gpu is not None and first.changed == []
    assert first.gpu.pool == "AMPERE_16" and again.gpu.pool != "AMPERE_16"
    changed = " | ".join(again.changed)
    assert f"revision: was {first.facts['revision']}, now {again.facts['revision']}" in changed
    now = pool_label(again.gpu.pool)
    assert f"GPU pool: was 1 x 16 GB (AMPERE_16), now 1 x {now}" in changed
    assert f"price: was {first.facts['price']}, now {again.facts['price']}" in changed
    assert "changed since you approved it" in again.summary
    records = await DeploymentStore(world.vault.sessions).list(world.user_id)
    rows = [r for r in await world.vault.audit.records()
            if r.kind == "tool" and r.user_id == world.user_id]  # fmt: skip
    if not second:
        assert outcomes(events) == [("create_runpod_endpoint", "denied")] and records == []
        nothing_spent(world)
        assert [(r.tool, r.outcome) for r in rows] == [("create_runpod_endpoint", "denied")]
        return
    assert outcomes(events) == [("create_runpod_endpoint", "success")]
    data = endpoint_data(world)  # exactly one endpoint: the second card's
    assert data["gpu"]["pools"] == [again.gpu.pool] and data["gpu"]["count"] == again.gpu.gpu_count
    [record] = records
    assert record.revision == again.facts["revision"] and again.usd_per_hour is not None
    assert record.usd_per_second * 3600 == pytest.approx(again.usd_per_hour)
    assert [(r.tool, r.outcome, r.approved_by) for r in rows] == [
        ("create_runpod_endpoint", "success", "ann")
    ]


async def test_a_pool_the_changed_model_no_longer_fits_is_reported_not_run(world: World) -> None:
    world.stack.huggingface.add_repo(hf_repos.safetensors_repo(MOVING))
    user = User(True, True, meanwhile={0: grow_the_model(world)})
    call = Call(tool="create_runpod_endpoint", args={"repo_id": MOVING, "pool": "AMPERE_16"})
    events = await world.turn([call, Reply(text="ok")], user)
    assert len(user.cards) == 1 and outcomes(events) == [("create_runpod_endpoint", "denied")]
    [notice] = [e for e in events if isinstance(e, Notice)]  # no card can be made: say why
    assert "after you approved it (it can no longer be planned: AMPERE_16 needs" in notice.text
    nothing_spent(world)


async def test_a_price_change_under_an_open_card_spends_nothing_and_asks_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    dearer = [(*g[:4], 0.0002 if g[2] == "AMPERE_16" else g[4]) for g in runpod_fake.GPU_CATALOG]

    async def reprice() -> None:
        monkeypatch.setattr(runpod_fake, "GPU_CATALOG", dearer)

    user = User(True, False, meanwhile={0: reprice})
    call = Call(tool="create_runpod_endpoint", args={"repo_id": TINY, "pool": "AMPERE_16"})
    events = await world.turn([call, Reply(text="ok")], user)
    first, again = user.cards
    assert again.changed == [
        "price: was $0.5760/h per running worker, now $0.7200/h per running worker"
    ]
    # The same pool: only its price moved (which the terms' pick, priced, also shows).
    assert first.gpu is not None and again.gpu is not None
    assert first.gpu.model_dump(exclude={"pick"}) == again.gpu.model_dump(exclude={"pick"})
    assert outcomes(events) == [("create_runpod_endpoint", "denied")]
    assert "after its plan changed" in finished(events, "create_runpod_endpoint").summary
    nothing_spent(world)
    assert await DeploymentStore(world.vault.sessions).list(world.user_id) == []


async def test_a_price_that_moves_under_every_card_ends_withnothing_spent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = iter([0.0002, 0.00024, 0.00028, 0.00032])

    async def reprice() -> None:
        price = next(prices)
        table = [(*g[:4], price if g[2] == "AMPERE_16" else g[4]) for g in runpod_fake.GPU_CATALOG]
        monkeypatch.setattr(runpod_fake, "GPU_CATALOG", table)

    user = User(True, True, True, True, meanwhile=dict.fromkeys(range(4), reprice))
    call = Call(tool="create_runpod_endpoint", args={"repo_id": TINY, "pool": "AMPERE_16"})
    events = await world.turn([call, Reply(text="ok")], user)
    assert [len(card.changed) for card in user.cards] == [0, 1, 1, 1]  # asked again 3 times
    assert outcomes(events) == [("create_runpod_endpoint", "failed")]
    assert "changed again each time" in finished(events, "create_runpod_endpoint").summary
    nothing_spent(world)


async def test_teardown_deletes_what_its_card_named_and_asks_again_if_that_changed(
    world: World,
) -> None:
    create = Call(tool="create_runpod_endpoint", args={"repo_id": TINY, "pool": "AMPERE_16"})
    await world.turn([create, Reply(text="ok")], User(True))
    store = DeploymentStore(world.vault.sessions)
    [record] = await store.list(world.user_id)
    endpoint = record.endpoint_id
    assert endpoint in world.stack.runpod.state.endpoints

    async def publish_meanwhile() -> None:  # a web app appears while the card is open
        await store.update(record.id, urls={**record.urls, "vercel_project": "prj_late"})

    user = User(True, False, meanwhile={0: publish_meanwhile})
    down = Call(tool="teardown", args={"endpoint_id": endpoint, "remove_image": "no"})
    events = await world.turn([down, Reply(text="ok")], user)
    first, again = user.cards
    assert first.facts["deployment"] == record.id and first.facts["web app"] == "none"
    assert first.args == {"endpoint_id": endpoint, "remove_image": False}
    assert again.changed == ["web app: was none, now deletes the Vercel project prj_late"]
    assert outcomes(events) == [("teardown", "denied")]
    assert endpoint in world.stack.runpod.state.endpoints  # nothing was deleted

    user = User(True)
    events = await world.turn([down, Reply(text="ok")], user)
    [card] = user.cards
    assert "deletes the Vercel project prj_late" in card.creates
    assert outcomes(events) == [("teardown", "success")]
    assert world.stack.runpod.state.endpoints == {}
    assert (await store.get(record.id, user_id=world.user_id)).state == "torn_down"


async def test_a_call_approved_without_its_card_runs_nothing(world: World) -> None:
    """Approved outside the agent (a resume that skipped the card): the tool refuses."""
    endpoint = await recorded_deployment(world)
    deps = BareDeps(world.user_id, LivePublishing(world.vault, world.settings, world.http))
    args = {"endpoint_id": endpoint, "repo_name": "tiny-chat", "private": "false"}
    agent = Agent(calls_then_done(("push_to_github", args)), deps_type=BareDeps,
                  tools=[Tool(app_tools.push_to_github, requires_approval=True)],
                  output_type=[str, DeferredToolRequests])  # fmt: skip
    run = await agent.run("push it", deps=deps)
    assert isinstance(run.output, DeferredToolRequests)
    results = run.output.build_results(approve_all=True)
    done = await agent.run(
        deps=deps, message_history=run.all_messages(), deferred_tool_results=results
    )
    [failed] = [p for m in done.all_messages() if isinstance(m, ModelRequest) for p in m.parts
                if isinstance(p, ToolReturnPart) and p.outcome == "failed"]  # fmt: skip
    assert "runs only as approved on a KripTik approval card" in str(failed.content)
    assert world.stack.github.calls_to("POST /user/repos") == []
