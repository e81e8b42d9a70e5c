"""A KripTik process that runs deployments, for the crash-resume test (run as a script).

    python -m tests.pipeline.crash_child start USER_ID   # plan, record, start; then wait
    python -m tests.pipeline.crash_child resume DEPLOYMENT_ID  # launch (DBOS recovers); wait

Settings come from KRIPTIK_* in the environment, as in the app. Prints one JSON line per
milestone, so the parent test waits on what happened, never on time.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx

from tools.pipeline import api
from tools.pipeline.plan import DeployRequest, plan_deployment
from tools.pipeline.services import PipelineServices, Timings
from vault import Settings, Vault

LLM = "kriptik-test/tiny-llama"


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def main(mode: str, target: str) -> None:
    settings = Settings()
    vault = await Vault.open(settings)
    async with httpx.AsyncClient(trust_env=False) as http:
        services = PipelineServices(
            settings=settings, vault=vault, http=http, timings=Timings(poll_s=0.05)
        )
        await api.launch(services)
        say(launched=True)
        deployment_id = target
        if mode == "start":
            plan = await plan_deployment(services, target, DeployRequest(repo_id=LLM))
            deployment_id = (await api.create_deployment(services, user_id=target, plan=plan)).id
            say(deployment_id=deployment_id)
        say(outcome=await api.wait_deployment(deployment_id))
        await api.shutdown()
    await vault.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
