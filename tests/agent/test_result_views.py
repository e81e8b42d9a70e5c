"""What the model reads of the tools' results (`ToolReturnPart.model_response_str`, as
pydantic-ai sends it): every fact it tells the user or passes back, and not the ids,
digests, file texts and job routes it never uses; the Python objects keep them all."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_ai.messages import ToolReturnPart

from agent.events import AppLive
from agent.hooks import scrub
from agent.tool_events import result_events
from tools.app_tools import PublishedApp, PushedRepo
from tools.credential_tools import CredentialStatus
from tools.pipeline_tools import DeploymentReport, WorkerFilesResult
from tools.publish.models import AppCheck, CheckStep, RepoResult, WebDeployResult
from vault import REDACTOR

BASE = "https://api.runpod.ai/v2/ep1"


def _read(result: BaseModel) -> dict[str, Any]:
    sent = ToolReturnPart(tool_name="t", content=result, tool_call_id="c1").model_response_str()
    return json.loads(sent)


def test_the_worker_is_read_without_its_file_texts() -> None:
    worker = WorkerFilesResult(
        repo_id="o/m", revision="abc", kind="vllm", needs_build=False, directory=None,
        dockerfile=None, template_env={"MODEL_NAME": "o/m"}, build_commands=[],
    )  # fmt: skip
    assert _read(worker) == {"repo_id": "o/m", "revision": "abc", "kind": "vllm",
                             "needs_build": False}  # fmt: skip
    built = worker.model_copy(update={"needs_build": True, "directory": "/w",
                                      "dockerfile": "FROM x", "build_commands": ["docker build /w"]})  # fmt: skip
    assert _read(built)["directory"] == "/w" and _read(built)["build_commands"]
    assert "dockerfile" not in _read(built) and built.dockerfile == "FROM x"


def test_a_deployment_is_read_with_the_urls_people_call() -> None:
    routes = ("run", "runSync", "health", "status", "stream", "cancel", "retry", "purgeQueue")
    urls = {r: f"{BASE}/{r}" for r in routes} | {
        "openai": f"{BASE}/openai/v1",
        "webapp": "https://a",
    }
    report = DeploymentReport(
        deployment_id="d1", state="ready", stage="ready", endpoint_id="ep1", urls=urls,
        pool="ADA_24", usd_per_hour_per_worker=0.68, running_usd_per_hour=0.0,
        cost_so_far_usd=0.0, message=None,
    )  # fmt: skip
    read = _read(report)
    assert set(read["urls"]) == {"run", "runSync", "health", "openai", "webapp"}
    assert read["endpoint_id"] == "ep1" and read["deployment_id"] == "d1"
    assert report.urls == urls  # the record's own view is whole


def test_a_missing_key_is_read_without_empty_fields() -> None:
    missing = CredentialStatus(provider="github", status="missing", message="No key.")
    assert _read(missing) == {"provider": "github", "status": "missing", "message": "No key."}
    valid = missing.model_copy(update={"status": "valid", "identity": "octo", "scopes": ["repo"]})
    assert _read(valid)["identity"] == "octo" and _read(valid)["scopes"] == ["repo"]


def test_a_push_and_a_web_deploy_are_read_without_their_ids() -> None:
    repo = RepoResult(full_name="octo/app", html_url="https://github.com/octo/app", private=True,
                      created=True, commit_sha="f" * 40, changed=True, files=18)  # fmt: skip
    assert "f" * 40 not in json.dumps(_read(PushedRepo.of(repo)))
    assert _read(PushedRepo.of(repo))["html_url"] == repo.html_url
    assert PushedRepo.of(repo).commit_sha == repo.commit_sha
    step = CheckStep(name="page", ok=False, detail="the page returned 500")
    web = WebDeployResult(
        host="vercel", project="app", project_id="prj_1", deployment_id="dpl_2",
        url="https://app.vercel.app", tree_digest="e" * 64, env_vars=("RUNPOD_API_KEY",),
        env_protection="encrypted", check=AppCheck(passed=False, steps=(step,)),
    )  # fmt: skip
    app = PublishedApp.of(web, "**app** is deployed")
    read = _read(app)
    assert app.project_id == "prj_1" and app.check == web.check  # the object keeps them
    # The summary goes to the chat as it is (AppLive), not to the model; a failed check says
    # where and why, so the model can say what to try.
    assert app.summary == "**app** is deployed"
    assert read == {"project": "app", "url": "https://app.vercel.app", "reused": False,
                    "check": {"passed": False, "why": "failed at page: the page returned 500"}}  # fmt: skip


def test_a_scrubbed_deploy_keeps_its_check_steps() -> None:
    secret = "rpa_KnownSecretForViews0123456789abcdXYZ"
    step = CheckStep(name="chat", ok=True, detail="streamed 6 chunks")
    web = WebDeployResult(
        host="vercel", project="app", project_id="prj_1", deployment_id="dpl_2",
        url="https://app.vercel.app", tree_digest="e" * 64, env_vars=("RUNPOD_API_KEY",),
        env_protection="encrypted", check=AppCheck(passed=True, steps=(step,)),
    )  # fmt: skip
    REDACTOR.register(secret)
    try:
        cleaned = scrub(PublishedApp.of(web, f"echoed {secret}"))
        [shown] = result_events("call_1", cleaned, {})
    finally:
        REDACTOR.clear()
    # The model never reads the summary; the chat gets it, masked.
    assert isinstance(cleaned, PublishedApp) and "summary" not in _read(cleaned)
    assert isinstance(shown, AppLive) and secret not in shown.summary
    assert cleaned.check == web.check and cleaned.tree_digest == web.tree_digest
