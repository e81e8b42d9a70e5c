"""Deploying a generated app with the real clients against the contract-checked fakes:
Vercel (missing_files round trip, encrypted env, build log on error) and Netlify (required
files and functions, secret env), each re-run idempotently, then the deployed app's
integration check against its function running in `node`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.webapp.conftest import DevServer, Recorder, Routed, dev_server, spec_for, write_project
from tools.artifacts.webapp import AppSpec, render_app
from tools.clients.errors import BuildFailed, InvalidRequest
from tools.clients.netlify import NetlifyClient
from tools.clients.vercel import VercelClient
from tools.publish import (
    check_app,
    deploy_to_netlify,
    deploy_to_vercel,
)
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.runpod import DEFAULT_KEY

KEY = SecretStr(DEFAULT_KEY)
OWNER = "octo-tester"


# ---- the deployed app, for the integration check --------------------------------------------
@pytest.fixture
def running(
    request: pytest.FixtureRequest, stack: FakeStack, projects: Path
) -> Iterator[DevServer]:
    spec: AppSpec = request.param
    with dev_server(write_project(spec, projects), stack) as server:
        yield server


def _checker(server: DevServer, spec: AppSpec, clock: FakeClock):
    routed = httpx.AsyncClient(transport=Routed(server.url), trust_env=False)

    async def check(url: str):
        async with routed:
            return await check_app(routed, url, spec, sleep=clock.sleep, poll_s=2)

    return check


# ---- Vercel ---------------------------------------------------------------------------------
@pytest.mark.parametrize("running", [spec_for("llm")], indirect=True)
async def test_vercel_deploy_missing_files_env_ready_and_checked(
    vercel: VercelClient,
    stack: FakeStack,
    recorder: Recorder,
    running: DevServer,
    clock: FakeClock,
) -> None:
    spec = spec_for("llm")
    result = await deploy_to_vercel(spec, vercel=vercel, runpod_key=KEY, secrets=[KEY], recorder=recorder,
                                    check=_checker(running, spec, clock))  # fmt: skip
    assert result.url == "https://demo-llm.vercel.app" and result.env_protection == "encrypted"
    posts = stack.vercel.calls_to("POST /v13/deployments")
    assert [c.status for c in posts] == [400, 200]  # missing_files, then the same body again.
    assert posts[0].body == posts[1].body
    files = render_app(spec).vercel_files()
    assert len(stack.vercel.calls_to("POST /v2/files")) == len(set(files.values()))
    assert sorted(stack.vercel.state.files.values()) == sorted(set(files.values()))
    assert not any(DEFAULT_KEY.encode() in raw for raw in stack.vercel.state.files.values())
    (project,) = stack.vercel.state.projects.values()
    env = project["_env"]
    assert env["RUNPOD_API_KEY"] == {
        "key": "RUNPOD_API_KEY",
        "value": DEFAULT_KEY,
        "type": "encrypted",
        "target": ["production", "preview"],
    }
    assert env["RUNPOD_ENDPOINT_ID"]["value"] == spec.endpoint.endpoint_id
    assert result.check is not None and result.check.passed, result.check.summary
    assert [s.name for s in result.check.steps] == ["page", "health", "chat"]
    assert [r[0] for r in recorder.resources] == ["vercel_project", "vercel_deployment"]
    assert DEFAULT_KEY not in result.model_dump_json()


async def test_vercel_rerun_uploads_nothing_and_keeps_an_identical_deployment(
    vercel: VercelClient, stack: FakeStack
) -> None:
    spec = spec_for("image")
    first = await deploy_to_vercel(spec, vercel=vercel, runpod_key=KEY)
    uploads = len(stack.vercel.calls_to("POST /v2/files"))
    kept = await deploy_to_vercel(spec, vercel=vercel, runpod_key=KEY, previous=first)
    assert kept.reused and kept.deployment_id == first.deployment_id
    assert len(stack.vercel.state.deployments) == 1 and len(stack.vercel.state.projects) == 1
    fresh = await deploy_to_vercel(spec, vercel=vercel, runpod_key=KEY)  # No memory of the first.
    assert not fresh.reused and len(stack.vercel.state.deployments) == 2
    assert len(stack.vercel.calls_to("POST /v2/files")) == uploads  # Vercel had every file.
    assert [c.status for c in stack.vercel.calls_to("POST /v13/deployments")] == [400, 200, 200]


async def test_vercel_build_error_reports_the_log_without_the_key(
    vercel: VercelClient, stack: FakeStack
) -> None:
    stack.vercel.state.fail_next_build = (
        f"Cannot find module 'x' (env RUNPOD_API_KEY={DEFAULT_KEY})"
    )
    with pytest.raises(BuildFailed) as caught:
        await deploy_to_vercel(spec_for("generic"), vercel=vercel, runpod_key=KEY)
    message = str(caught.value)
    assert (
        "ended in ERROR" in message
        and "End of the build log:\nInstalling dependencies...\nBuild completed\nError: Cannot find module 'x'"
        in message
    )
    assert DEFAULT_KEY not in message and "[redacted]" in message


# ---- Netlify --------------------------------------------------------------------------------
@pytest.mark.parametrize("running", [spec_for("media", media="model3d")], indirect=True)
async def test_netlify_deploy_files_function_secret_env_and_check(
    netlify: NetlifyClient,
    stack: FakeStack,
    recorder: Recorder,
    running: DevServer,
    clock: FakeClock,
) -> None:
    spec = spec_for("media", media="model3d")
    result = await deploy_to_netlify(spec, netlify=netlify, runpod_key=KEY, secrets=[KEY], recorder=recorder,
                                     check=_checker(running, spec, clock))  # fmt: skip
    app = render_app(spec)
    assert result.url == "https://demo-model3d.netlify.app" and result.env_protection == "secret"
    deploy = stack.netlify.state.deploys[result.deployment_id]
    assert deploy["state"] == "ready"
    assert stack.netlify.site_files(result.deployment_id) == {
        "/" + p: b for p, b in app.netlify_files().items()
    }
    assert stack.netlify.function_source(result.deployment_id) == app.files["api/infer.js"]
    assert [
        c.query for c in stack.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/functions/{name}")
    ] == [[("runtime", "js")]]
    var = stack.netlify.env[(result.project_id, "RUNPOD_API_KEY")]
    assert var["is_secret"] and var["scopes"] == ["functions"]
    assert {v["context"] for v in var["values"]} == {
        "production",
        "deploy-preview",
        "branch-deploy",
    }
    assert {v["value"] for v in var["values"]} == {DEFAULT_KEY}
    assert not any(DEFAULT_KEY.encode() in raw for raw in stack.netlify.state.files.values())
    assert result.check is not None and result.check.passed, result.check.summary
    assert [s.name for s in result.check.steps] == ["page", "health", "job"]
    assert [r[0] for r in recorder.resources] == ["netlify_site", "netlify_deploy"]


async def test_netlify_rerun_uploads_nothing_and_updates_env(
    netlify: NetlifyClient, stack: FakeStack
) -> None:
    spec = spec_for("generic")
    first = await deploy_to_netlify(spec, netlify=netlify, runpod_key=KEY)
    sent = len(stack.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/files/{path}"))
    again = await deploy_to_netlify(spec, netlify=netlify, runpod_key=SecretStr(DEFAULT_KEY + "X"))
    assert (
        not again.reused
        and again.project_id == first.project_id
        and len(stack.netlify.state.sites) == 1
    )
    assert len(stack.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/files/{path}")) == sent
    assert len(stack.netlify.calls_to("PUT /api/v1/deploys/{deploy_id}/functions/{name}")) == 1
    assert (
        len(stack.netlify.calls_to("PUT /api/v1/accounts/{account_id}/env/{key}")) == 2
    )  # Updated in place.
    kept = await deploy_to_netlify(spec, netlify=netlify, runpod_key=KEY, previous=again)
    assert kept.reused and len(stack.netlify.state.deploys) == 2


async def test_a_netlify_plan_without_secrets_stops_the_deploy_with_the_options(
    netlify: NetlifyClient, stack: FakeStack
) -> None:
    """The approval card promised "kept secret": a plan that refuses secret variables
    stops the deploy, with the options, and the key is never stored as a plain variable."""
    stack.netlify.fail(
        "POST /api/v1/accounts/{account_id}/env", 422, message="Secret values require a Pro plan"
    )
    with pytest.raises(InvalidRequest) as refused:
        await deploy_to_netlify(spec_for("image"), netlify=netlify, runpod_key=KEY)
    message = str(refused.value)
    assert "would not store RUNPOD_API_KEY as a secret variable" in message
    assert "Secret values require a Pro plan" in message
    assert "not stored as a plain variable" in message
    assert "deploy to Vercel instead" in message and "plan with secret environment" in message
    assert DEFAULT_KEY not in message + repr(refused.value)
    assert stack.netlify.env == {} and stack.netlify.state.deploys == {}
    sent = [c.body for c in stack.netlify.calls_to("POST /api/v1/accounts/{account_id}/env")]
    assert [var["is_secret"] for var in json.loads(sent[0])] == [True]  # never a plain retry


async def test_netlify_failed_deploy_raises_build_failed(
    netlify: NetlifyClient, stack: FakeStack
) -> None:
    stack.netlify.state.fail_next_deploy = "Function infer failed to bundle"
    with pytest.raises(BuildFailed, match="Function infer failed to bundle"):
        await deploy_to_netlify(spec_for("image"), netlify=netlify, runpod_key=KEY)
