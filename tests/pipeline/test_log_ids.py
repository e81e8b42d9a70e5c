"""Every record logged while a deployment's workflow runs names the deployment in the JSON
log lines (`vault.logs`), and records logged outside it do not: here, httpx's line for
each provider request the workflow's steps make."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

from tests.pipeline.conftest import PipelineEnv
from tests.pipeline.test_workflow import deploy
from tools.pipeline.services import PipelineServices


async def test_the_workflows_requests_carry_the_deployment_id(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], httpx_lines: io.StringIO
) -> None:
    services()
    user = await pipeline.new_user()
    view, _, outcome = await deploy(pipeline.pipe, user)
    assert outcome == "ready"
    records = [json.loads(line) for line in httpx_lines.getvalue().splitlines()]
    tagged = [r for r in records if r["deployment_id"] == view.id]
    untagged = [r for r in records if r["deployment_id"] is None]
    assert {r["deployment_id"] for r in records} <= {view.id, None}
    # The plan's look at the Hub runs in the test's task; creating the endpoint, in the workflow.
    assert untagged
    assert any(str(r["message"]).startswith("HTTP Request: POST") for r in tagged)
    assert any("/v2/serverless" in str(r["message"]) for r in tagged)
