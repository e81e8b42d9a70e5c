"""The load test's providers, in a process of their own: every loopback fake, and the
simulated LLM playing the scripted assistant (`tools.simulator.assistant`).

    python -m benchmarks._load_fakes

Kept out of the benchmark's process so that the fakes' work (the assistant reads every
request's whole conversation) does not share one interpreter lock with the 100 socket
clients whose turns are timed. One JSON object a line on stdout; commands on stdin:

- (at start) `{"env": {KRIPTIK_*...}}`: the settings that send an instance to these fakes.
- `release`: RunPod's workers, held INITIALIZING since the start (so that deployments are
  still waiting for them when an instance is killed; `tests.pipeline.fakes`' RunPod,
  which also serves the workers' logs the pipeline reads while it waits), are ready at
  their next look.
- `report`: what RunPod holds: each template's and endpoint's name, and how many times
  each was created (`POST /v2/templates`, `POST /v2/serverless`), plus any request a fake
  found outside its published API.

EOF ends it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from agent.llm import LOCAL_KEY
from tests.pipeline.fakes import DeployRunPodFake
from tools.simulator.all import FakeStack
from tools.simulator.assistant import answer
from tools.simulator.llm import LlmFake
from tools.simulator.server import ServedApp

MODEL = "bench/assistant"


def _say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def _env(stack: FakeStack, llm_url: str) -> dict[str, str]:
    env = {f"KRIPTIK_{k.upper()}": str(v) for k, v in stack.settings_fields().items()}
    # A local OpenAI-compatible server: it takes the placeholder key, and no user needs an
    # OpenRouter key of their own.
    return env | {"KRIPTIK_LLM_BASE_URL": f"{llm_url}/v1", "KRIPTIK_MODEL": MODEL}


def _created(stack: FakeStack, route: str) -> list[str]:
    """The names in every successful create on `route` (a retried create counts twice)."""
    calls = stack.runpod.calls_to(route)
    return [str(json.loads(c.body or b"{}").get("name")) for c in calls if c.status in (200, 201)]


def _report(stack: FakeStack) -> dict[str, Any]:
    runpod = stack.runpod
    problems: list[str] = []
    for fake in stack.fakes().values():
        try:
            fake.assert_clean()
        except AssertionError as err:
            problems.append(str(err)[:2000])
    return {
        "templates": [t.get("name") for t in runpod.state.templates.values()],
        "endpoints": [e.data.get("name") for e in runpod.state.endpoints.values()],
        "template_posts": _created(stack, "POST /v2/templates"),
        "endpoint_posts": _created(stack, "POST /v2/serverless"),
        "problems": problems,
    }


def main() -> None:
    runpod = DeployRunPodFake()  # RunPod with worker logs, and workers held starting
    runpod.hold()
    stack = FakeStack(runpod=runpod).start()
    llm = LlmFake(keys={LOCAL_KEY}, assistant=answer)
    served = ServedApp(llm)
    try:
        _say(env=_env(stack, served.url))
        for line in sys.stdin:
            command = line.strip()
            if command == "release":
                runpod.release()
                _say(released=len(runpod.state.endpoints))
            elif command == "report":
                _say(**_report(stack))
            else:
                _say(error=f"unknown command {command!r}")
    finally:
        served.stop()
        stack.stop()


if __name__ == "__main__":
    main()
