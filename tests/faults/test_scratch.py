from __future__ import annotations
import time
from tests.pipeline.conftest import PipelineEnv, caps, fakes, pipeline, runpod, services, stack  # noqa: F401
from tools.pipeline import DeployRequest, api, plan_deployment

async def test_one(pipeline: PipelineEnv, services, runpod) -> None:
    svc = services(caps=caps())
    user = await pipeline.new_user()
    t = time.perf_counter()
    plan = await plan_deployment(svc, user, DeployRequest(repo_id="kriptik-test/tiny-llama"))
    print("plan", plan.worker.kind, time.perf_counter() - t)
    view = await api.create_deployment(svc, user_id=user, plan=plan)
    out = await api.wait_deployment(view.id)
    print("outcome", out, time.perf_counter() - t)
    print([c.route for c in runpod.calls])
    print([ (c.route) for c in pipeline_jobs_calls(svc)] if False else "")
