"""A KripTik process that runs deployments, for the crash and two-instance tests.

    python -m tests.resilience.host EXECUTOR deploy USER_ID     # launch, plan, record, run
    python -m tests.resilience.host EXECUTOR recover [ID]       # launch (DBOS recovers what
                                                                  # EXECUTOR left); wait for ID
    python -m tests.resilience.host EXECUTOR watch ID           # launch, then report ID's record
                                                                  # and workflow status on each
                                                                  # line read from stdin

Settings come from KRIPTIK_* in the environment, as in the app; EXECUTOR is the DBOS
executor id, one per instance, stable across its restarts. One JSON line per milestone
on stdout, so the test waits on what happened, never on time.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
from dbos import DBOS

from tools.pipeline import api
from tools.pipeline.plan import DeployRequest, plan_deployment
from tools.pipeline.services import PipelineServices, Timings
from vault import Settings, Vault

LLM = "kriptik-test/tiny-llama"


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def _watch(services: PipelineServices, deployment_id: str) -> None:
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        view = await services.deployments.get(deployment_id, user_id=None)
        status = await DBOS.get_workflow_status_async(deployment_id)
        say(state=view.state, endpoint_id=view.endpoint_id,
            workflow=status.status if status else None,
            executor=status.executor_id if status else None)  # fmt: skip


async def main(executor: str, mode: str, target: str | None) -> None:
    settings = Settings()
    vault = await Vault.open(settings)
    async with httpx.AsyncClient(trust_env=False) as http:
        services = PipelineServices(
            settings=settings, vault=vault, http=http, timings=Timings(poll_s=0.05)
        )
        pipe = await api.launch(services, executor_id=executor)
        say(launched=True, executor=executor)
        if mode == "deploy" and target:
            plan = await plan_deployment(services, target, DeployRequest(repo_id=LLM))
            target = (await api.create_deployment(pipe, user_id=target, plan=plan)).id
            say(deployment_id=target)
        if mode == "watch" and target:
            await _watch(services, target)
        elif target:
            say(outcome=await api.wait_deployment(target))
        await api.shutdown(pipe)
    await vault.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2] if len(args) > 2 else None))
