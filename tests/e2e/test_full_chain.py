"""The whole chain, scripted end to end: from "build me an app on org/model" to the closing
summary, then the teardown, in one process, with nothing faked but the providers (loopback)
and the chat model (a `FunctionModel` script).

```
run_turn ─ inspect, keys asked in the secure field, GPU priced ─ approval ─> DBOS pipeline
         (template, endpoint, readiness, smoke test against the RunPod fakes) ─> push to
         GitHub ─ approval ─> deploy to Vercel ─ approval ─> the app, served from exactly
         the files and env vars Vercel holds, answers the integration check ─> summary
run_turn ─ teardown ─ approval ─> endpoint, template and Vercel project gone; repo kept
```

The closing summary is the tool's, written from the deployment record, and shown by the chat
as it is (`AppLive`); the model only ends with a line. Every
planted key is looked for, in its raw and encoded forms, in everything that could leak it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from huggingface_hub import constants as hf_constants
from pydantic import BaseModel, SecretStr
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart

from agent import TurnContext, UIEvent, run_turn
from agent.events import AppLive, Approval, Final, Question, ToolFinished
from agent.history import SqlConversationStore
from agent.llm import ChatModels
from agent.scripted import Call, Reply, ScriptedInteraction, ScriptedModel
from tests.conftest import need_service, new_master_key
from tests.pipeline.fakes import DeployRunPodFake
from tests.pipeline.launched import launched_pipeline
from tests.webapp.fakes import webapp_stack
from tools.clients._http import Retry
from tools.pipeline import api
from tools.pipeline.handle import PipelineHandle
from tools.pipeline.services import Timings
from tools.publish.service import LivePublishing
from tools.services import LiveServices
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.github import DEFAULT_TOKEN as GITHUB_TOKEN
from tools.simulator.runpod import DEFAULT_KEY as RUNPOD_KEY
from tools.simulator.vercel import DEFAULT_TOKEN as VERCEL_TOKEN
from vault import REDACTOR, Settings, Vault
from vault.deployments import DeploymentStore
from vault.redact import encoded_forms

MODEL = "kriptik-test/tiny-llama"
APP = "tiny-llama-chat"
PLANTED = {"RunPod": RUNPOD_KEY, "GitHub": GITHUB_TOKEN, "Vercel": VERCEL_TOKEN}
# The platform side of a Vercel function: serves public/ and runs api/infer.js, as the
# generated project's own dev server does (it is not part of the deployed files).
_RUNTIME = Path(__file__).parents[2] / "tools/artifacts/webapp/templates/project/dev-server.mjs"
_FAST = Timings(poll_s=0.01, smoke_wait_ms=5000, log_budget_s=2.0)


class VercelEdge(httpx.AsyncBaseTransport):
    """`https://<alias>.vercel.app`, served from what the Vercel fake holds: the READY
    deployment with that alias, its uploaded files and its project's env vars, run by
    `node` (started on the first request). Anything else goes to the network (loopback).
    With no such deployment (a deleted project), Vercel's 404."""

    def __init__(self, stack: FakeStack, root: Path) -> None:
        self.stack, self.root = stack, root
        self.inner = httpx.AsyncHTTPTransport()
        self.apps: dict[str, tuple[asyncio.subprocess.Process, httpx.URL]] = {}

    def _deployment(self, host: str) -> dict[str, Any] | None:
        state = self.stack.vercel.state
        live = [d for d in state.deployments.values()
                if d["readyState"] == "READY" and host in d.get("alias", [])]  # fmt: skip
        return max(live, key=lambda d: d["id"]) if live else None

    async def _start(self, dep: dict[str, Any]) -> httpx.URL:
        state = self.stack.vercel.state
        folder = self.root / dep["id"]
        for f in dep["_files"]:
            raw = state.files[f["sha"]] if "sha" in f else f["data"].encode()
            (folder / f["file"]).parent.mkdir(parents=True, exist_ok=True)
            (folder / f["file"]).write_bytes(raw)
        shutil.copyfile(_RUNTIME, folder / "dev-server.mjs")
        [project] = [p for p in state.projects.values() if p["name"] == dep["name"]]
        env = {k: v["value"] for k, v in project["_env"].items()} | {
            "PATH": os.environ["PATH"], "PORT": "0",
            # Vercel's functions reach api.runpod.ai; this one reaches its fake.
            "RUNPOD_API_BASE": self.stack.url("runpod_jobs") + "/v2",
        }  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            "node", "dev-server.mjs", cwd=folder, env=env, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line.startswith("Listening on "), line
        self.apps[dep["id"]] = (process, httpx.URL(line.split()[-1]))
        return self.apps[dep["id"]][1]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.endswith(".vercel.app"):
            dep = self._deployment(request.url.host)
            if dep is None:
                return httpx.Response(404, text="The deployment could not be found on Vercel.")
            known = self.apps.get(dep["id"])
            target = known[1] if known else await self._start(dep)
            request.url = request.url.copy_with(scheme="http", host=target.host, port=target.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        for process, _ in self.apps.values():
            process.terminate()
            await process.wait()
        await self.inner.aclose()


@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    fakes = webapp_stack(runpod=DeployRunPodFake())
    fakes.start()
    yield fakes
    fakes.stop()


@dataclass
class World:
    settings: Settings
    vault: Vault
    http: httpx.AsyncClient
    user_id: str
    stack: FakeStack
    pipeline: PipelineHandle
    history: SqlConversationStore = field(init=False)

    def __post_init__(self) -> None:
        # One history store per world, as the composition root holds one per process.
        self.history = SqlConversationStore(self.vault.sessions)


@pytest.fixture
async def world(
    stack: FakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    if shutil.which("node") is None:
        need_service("Node.js", "install Node 18 or newer (the generated apps run on it)")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    stack.reset()
    settings = Settings(home=tmp_path / "home", database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
                        master_key=SecretStr(new_master_key()), http_timeout_s=5.0,
                        **stack.settings_fields())  # fmt: skip
    vault = await Vault.open(settings)
    user = await vault.users.create("ann", SecretStr("correct horse battery staple"))
    edge = VercelEdge(stack, tmp_path / "vercel-edge")
    async with httpx.AsyncClient(transport=edge, trust_env=False) as http:
        # The pipeline as the chat app launches it (ui/root.py), on the same client.
        try:
            async with launched_pipeline(settings, vault, http, timings=_FAST) as pipe:
                yield World(settings, vault, http, user.id, stack, PipelineHandle.of(pipe))
        finally:
            await vault.close()
            REDACTOR.clear()
    stack.assert_clean()


def _returned(messages: list[ModelMessage], tool: str) -> dict[str, Any]:
    """The last result of `tool` in the history the model was sent, as JSON data."""
    parts = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts
             if isinstance(p, ToolReturnPart) and p.tool_name == tool]  # fmt: skip
    assert parts, f"no result of {tool} yet"
    content: object = parts[-1].content
    if isinstance(content, BaseModel):
        return content.model_dump(mode="json")
    return cast(dict[str, Any], content if isinstance(content, dict) else json.loads(str(content)))


def _script(seen: dict[str, Any]) -> list[Any]:
    """What a good model does for "build me an app on MODEL", reading each result."""

    def create(messages: list[ModelMessage]) -> Call:
        plan = _returned(messages, "choose_gpu")
        assert plan["fits"], plan
        args = {"repo_id": MODEL, "pool": plan["pool"], "gpu_count": plan["gpu_count"]}
        return Call(tool="create_runpod_endpoint", args=args)

    def after_ready(messages: list[ModelMessage]) -> list[Call]:
        report = _returned(messages, "create_runpod_endpoint")
        assert report["state"] == "ready", report
        seen["endpoint_id"] = report["endpoint_id"]
        return [Call(tool="check_credential", args={"provider": p}) for p in ("github", "vercel")]

    def ask(provider: str, reason: str) -> Any:
        def step(messages: list[ModelMessage]) -> Call:
            assert _returned(messages, "check_credential")["status"] == "missing"
            return Call(tool="request_api_key", args={"provider": provider, "reason": reason})

        return step

    def push(messages: list[ModelMessage]) -> Call:
        args = {"endpoint_id": seen["endpoint_id"], "repo_name": APP}
        return Call(tool="push_to_github", args=args)

    def deploy(messages: list[ModelMessage]) -> Call:
        seen["repo"] = _returned(messages, "push_to_github")
        args = {"endpoint_id": seen["endpoint_id"], "project_name": APP}
        return Call(tool="deploy_vercel", args=args)

    def summary(messages: list[ModelMessage]) -> Reply:
        seen["web"] = _returned(messages, "deploy_vercel")
        return Reply(text="Your app is live: the summary above has its links and costs.")

    return [
        [Call(tool="inspect_model", args={"repo_id": MODEL}),
         Call(tool="check_credential", args={"provider": "runpod"})],
        ask("runpod", "to price GPUs and create the endpoint"),
        Call(tool="choose_gpu", args={"repo_id": MODEL}),
        create, after_ready,
        ask("github", "to push the app's code"), ask("vercel", "to host the app"),
        push, deploy, summary,
    ]  # fmt: skip


def _teardown_script(seen: dict[str, Any]) -> list[Any]:
    def done(messages: list[ModelMessage]) -> Reply:
        seen["teardown"] = _returned(messages, "teardown")
        return Reply(text="Torn down.")

    return [Call(tool="teardown", args={"endpoint_id": seen["endpoint_id"]}), done]


async def _turn(
    w: World, model: ScriptedModel, answers: ScriptedInteraction, text: str
) -> list[UIEvent]:
    # The publishing service the chat builds (agent/turn.py), on a fake clock: Vercel's
    # READY polls and the check's job polls never really sleep.
    clock = FakeClock()
    publishing = LivePublishing(w.vault, w.settings, w.http, sleep=clock.sleep,
                                retry=Retry(sleep=clock.sleep, clock=clock.now))  # fmt: skip
    ctx = TurnContext(
        settings=w.settings,
        vault=w.vault,
        user_id=w.user_id,
        user_name="ann",
        thread_id="thread-e2e",
        interaction=answers,
        model=model.model,
        services=LiveServices(w.vault, w.settings, w.http),
        publishing=publishing,
        pipeline=w.pipeline,
        models=ChatModels(),
        history=w.history,
    )  # fmt: skip  (models: unused, the turn plays `model`)
    return [event async for event in run_turn(ctx, text)]


def _leaks(where: str, text: str) -> list[str]:
    return [f"the {name} key, in {where}" for name, key in PLANTED.items()
            if any(form in text for form in encoded_forms(key))]  # fmt: skip


async def test_build_me_an_app_then_tear_it_down(world: World) -> None:
    w, fakes, seen = world, world.stack, dict[str, Any]()
    model = ScriptedModel(_script(seen))
    answers = ScriptedInteraction(
        secrets=[RUNPOD_KEY, GITHUB_TOKEN, VERCEL_TOKEN], approvals=[True, True, True], who="ann"
    )
    events = await _turn(w, model, answers, f"build me an app on {MODEL}")

    final = events[-1]
    assert isinstance(final, Final) and final.status == "done", events[-3:]
    assert model.remaining == 0
    finished = [(e.tool, e.outcome) for e in events if isinstance(e, ToolFinished)]
    # Calls made together finish in any order.
    assert sorted(finished[:2]) == [("check_credential", "success"), ("inspect_model", "success")]
    assert finished[2:] == [
        ("request_api_key", "success"), ("choose_gpu", "success"),
        ("create_runpod_endpoint", "success"),
        ("check_credential", "success"), ("check_credential", "success"),
        ("request_api_key", "success"), ("request_api_key", "success"),
        ("push_to_github", "success"), ("deploy_vercel", "success"),
    ]  # fmt: skip
    assert [q.provider for q in events if isinstance(q, Question)] == ["runpod", "github", "vercel"]
    cards = [a for a in events if isinstance(a, Approval)]
    assert [a.tool for a in cards] == ["create_runpod_endpoint", "push_to_github", "deploy_vercel"]
    assert cards[0].usd_per_hour and "nothing while idle" in cards[0].price

    # Exactly one of each resource.
    runpod = fakes.runpod.state
    [endpoint_id] = runpod.endpoints
    assert endpoint_id == seen["endpoint_id"] and len(runpod.templates) == 1
    assert not runpod.registries  # the prebuilt vLLM worker: no image, no registry login
    [(owner, repo_name)] = fakes.github.repos
    assert repo_name == APP and fakes.github.repos[(owner, repo_name)].private
    assert fakes.github.commits(owner, repo_name) == 2  # GitHub's initial commit, and ours
    vercel = fakes.vercel.state
    [project] = vercel.projects.values()
    [deployment] = vercel.deployments.values()
    assert project["name"] == deployment["name"] == APP
    assert set(project["_env"]) == {"RUNPOD_API_KEY", "RUNPOD_ENDPOINT_ID"}
    assert {v["type"] for v in project["_env"].values()} == {"encrypted"}
    assert not fakes.netlify.state.sites

    # The integration check ran through the live app's api/infer to the job fake.
    web = seen["web"]
    app_url = f"https://{APP}.vercel.app"
    # The model reads only whether the check passed (its summary says what failed); the
    # steps it took show in the fakes' records below: the app's health, then a chat job.
    assert web["url"] == app_url and web["check"] == {"passed": True}, web["check"]
    jobs_fake = fakes.runpod_jobs
    assert [c["model"] for c in jobs_fake.chats] == [MODEL]
    health = jobs_fake.calls_to("GET /v2/{endpoint_id}/health")
    assert health and all(c.status == 200 for c in health)

    # The closing summary names everything, from the deployment record.
    jobs = w.settings.runpod_jobs_base_url
    [record] = await DeploymentStore(w.vault.sessions).list(w.user_id)
    [live] = [e for e in events if isinstance(e, AppLive)]
    text = live.summary
    assert "summary" not in seen["web"] and text not in final.text  # shown, not relayed
    assert f"- Endpoint: {jobs}/{endpoint_id}" in text
    assert f"- Code: {seen['repo']['html_url']}" in text and seen["repo"]["html_url"].endswith(
        f"/{owner}/{APP}"
    )
    assert f"- App: {app_url} (integration check passed" in text
    assert "nothing while idle: it scales to zero" in text
    assert f"`kriptik deployments teardown {record.id}`" in text
    assert record.state == "ready" and record.endpoint_id == endpoint_id
    assert record.urls["repo"] == seen["repo"]["html_url"] and record.urls["webapp"] == app_url
    assert record.urls["vercel_project"] == project["id"]

    # Teardown, behind its approval: the endpoint, template and web app go; the repo stays.
    model.extend(_teardown_script(seen))
    answers = ScriptedInteraction(approvals=[True], who="ann")
    later = await _turn(w, model, answers, "tear it all down")
    assert isinstance(later[-1], Final) and later[-1].status == "done", later[-3:]
    [card] = [a for a in later if isinstance(a, Approval)]
    assert card.tool == "teardown"
    # The card says what goes and what stays before anyone approves it.
    assert any(f"Vercel project {project['id']}" in line for line in card.creates), card.creates
    assert any("keeps the GitHub repository" in line for line in card.creates), card.creates
    report = seen["teardown"]
    assert report["failure"] is None, report
    assert f"Vercel project {project['id']}" in report["removed"]
    assert any(f"endpoint {endpoint_id}" == r for r in report["removed"])
    [kept] = [n for n in report["notes"] if "Kept your GitHub repository" in n]
    assert f"`gh repo delete {owner}/{APP}`" in kept
    assert not runpod.endpoints and not runpod.templates
    assert not vercel.projects and not vercel.deployments
    assert (owner, repo_name) in fakes.github.repos  # the user's code is never deleted
    assert (await w.http.get(app_url)).status_code == 404
    [record] = await DeploymentStore(w.vault.sessions).list(w.user_id)
    assert record.state == "torn_down"

    # No planted key anywhere it could leak: the chat's events, the model's requests, the
    # saved history, the audit rows, the pipeline's progress stream, the pushed code.
    history = await SqlConversationStore(w.vault.sessions).load("thread-e2e", scope=w.user_id)
    progress = [e async for e in api.read_progress(record.id)]
    audit = await w.vault.audit.records()
    pushed = fakes.github.files(owner, repo_name)
    places = {
        "the chat's events": repr(events + later),
        "the model's requests": repr(model.requests),
        "the saved history": repr(history),
        "the audit rows": repr(audit),
        "the progress stream": repr(progress),
        "the deployment record": repr(record),
        "the pushed repo": repr(pushed),
    }
    assert [leak for where, text in places.items() for leak in _leaks(where, text)] == []
    assert {r.tool for r in audit if r.kind == "tool" and r.approved_by == "ann"} >= {
        "create_runpod_endpoint", "push_to_github", "deploy_vercel", "teardown",
    }  # fmt: skip
    assert (await w.vault.audit.verify()).ok
