"""The deployed app's integration check: does the page load, does `api/infer` reach the
endpoint, and does one real request come back?

```
GET  {app}/                      the page (200, and it is the generated page)
GET  {app}/api/infer?health=1    the function reaches RunPod with its key (no GPU time)
POST {app}/api/infer             one real request: a short chat (vLLM) or a job, polled
                                 to COMPLETED through GET ?id=
```

It reports pass or fail with the step that failed; it never raises for a failing app.
The chat check asks for a few tokens and the job check sends the worker's own test
input, so it costs one short GPU request (and a cold start if no worker is up).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import SecretStr

from tools.artifacts.webapp import AppSpec
from tools.publish._json import as_dict, as_list
from tools.publish.models import AppCheck, CheckStep

__all__ = ["check_app", "smoke_input"]

Sleep = Callable[[float], Awaitable[None]]
_FINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
_DEFAULT_INPUT: dict[str, dict[str, Any]] = {
    "llm": {"inputs": [{"role": "user", "content": "Reply with OK."}],
            "parameters": {"max_new_tokens": 8, "return_full_text": False}},
    "image": {"prompt": "a red apple on a wooden table", "num_inference_steps": 4},
    "media": {"prompt": "a small wooden toy"},
    "generic": {"prompt": "Hello"},
    "workflow": {},  # A ComfyUI workflow runs with its own values where none is given.
}  # fmt: skip


def smoke_input(spec: AppSpec) -> dict[str, Any]:
    """The input of the check's job: the worker's example, else a small one for the kind."""
    return dict(spec.example_input) if spec.example_input else _DEFAULT_INPUT[spec.kind]


class _Failed(Exception):
    def __init__(self, step: str, detail: str) -> None:
        super().__init__(detail)
        self.step = step
        self.detail = detail


async def _json(resp: httpx.Response, step: str) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        raise _Failed(step, f"answered {resp.status_code} with a body that is not JSON") from None
    if resp.status_code >= 400:
        error = as_dict(data).get("error")
        raise _Failed(step, f"answered {resp.status_code}: {error or 'no detail'}")
    return as_dict(data)


async def _chat(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> str:
    body = {"chat": {"messages": [{"role": "user", "content": "Reply with OK."}], "max_tokens": 8}}
    async with http.stream("POST", url, json=body, headers=headers) as resp:
        if resp.status_code != 200:
            await resp.aread()
            await _json(resp, "chat")
        pieces: list[str] = []
        async for line in resp.aiter_lines():
            if line.startswith("data:") and (data := line[5:].strip()) not in ("", "[DONE]"):
                choices = as_list(as_dict(json.loads(data)).get("choices")) or [{}]
                pieces.append(str(as_dict(as_dict(choices[0]).get("delta")).get("content") or ""))
    if not pieces:
        raise _Failed("chat", "the stream ended without a single token")
    return f"streamed {len(pieces)} chunks: {''.join(pieces)[:40]!r}"


def _waking(resp: httpx.Response) -> bool:
    """The app said the model is waking up from zero (503, code "waking"): ask again."""
    if resp.status_code != 503:
        return False
    try:
        return as_dict(resp.json()).get("code") == "waking"
    except ValueError:
        return False


async def _job(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], job_input: dict[str, Any],
    *, sleep: Sleep, poll_s: float, timeout_s: float,
) -> str:  # fmt: skip
    waited = 0.0
    resp = await http.post(url, json={"input": job_input}, headers=headers)
    while _waking(resp) and waited < timeout_s:  # a Hugging Face endpoint up from zero
        await sleep(poll_s)
        waited += poll_s
        resp = await http.post(url, json={"input": job_input}, headers=headers)
    job = await _json(resp, "job")
    job_id = str(job.get("id", ""))
    # Hugging Face and Cloud Run answer with the finished job; RunPod queues it.
    while job.get("status") not in _FINAL:
        job = await _json(await http.get(url, params={"id": job_id}, headers=headers), "job")
        if job.get("status") in _FINAL:
            break
        if waited >= timeout_s:
            raise _Failed("job", f"job {job_id} still {job.get('status')} after {timeout_s:g} s")
        await sleep(poll_s)
        waited += poll_s
    if job["status"] != "COMPLETED":
        raise _Failed(
            "job", f"job {job_id} ended {job['status']}: {job.get('error') or 'no detail'}"
        )
    return f"job {job_id} completed"


async def check_app(
    http: httpx.AsyncClient,
    app_url: str,
    spec: AppSpec,
    *,
    passcode: SecretStr | None = None,
    sleep: Sleep = asyncio.sleep,
    poll_s: float = 3.0,
    timeout_s: float = 600.0,
) -> AppCheck:
    """Check the app deployed at `app_url`; the result says which step failed and why.

    Args:
        http: The shared HTTP client.
        app_url: The app's public URL ("https://name.vercel.app").
        spec: The app's spec (which request to make).
        passcode: The app's APP_PASSCODE, if it has one.
        sleep: Awaitable sleep between job polls (a fake in tests).
        poll_s: Seconds between job polls.
        timeout_s: How long the job may take (a cold start included).
    """
    base = app_url.rstrip("/")
    api = f"{base}/api/infer"
    headers = {"x-app-passcode": passcode.get_secret_value()} if passcode else {}
    steps: list[CheckStep] = []
    current = "page"
    try:
        page = await http.get(f"{base}/")
        if page.status_code != 200 or "app-config" not in page.text:
            raise _Failed("page", f"{base}/ answered {page.status_code} without the app's page")
        steps.append(CheckStep(name="page", ok=True, detail="the page loads"))
        current = "health"
        health = await _json(await http.get(api, params={"health": "1"}, headers=headers), "health")
        # Only RunPod's function reports workers; another target's says its setup is whole.
        workers = as_dict(health.get("workers"))
        detail = "api/infer reaches the endpoint"
        if workers:
            detail += f" ({workers.get('idle', 0)} idle workers)"
        steps.append(CheckStep(name="health", ok=True, detail=detail))
        current = "chat" if spec.streams else "job"
        if spec.streams:
            detail = await _chat(http, api, headers)
        else:
            job_input = smoke_input(spec)
            detail = await _job(
                http, api, headers, job_input, sleep=sleep, poll_s=poll_s, timeout_s=timeout_s
            )
        steps.append(CheckStep(name=current, ok=True, detail=detail))
    except _Failed as failed:
        steps.append(CheckStep(name=failed.step, ok=False, detail=failed.detail))
    except (httpx.HTTPError, ValueError) as err:
        steps.append(CheckStep(name=current, ok=False, detail=f"{type(err).__name__}: {err}"))
    return AppCheck(passed=all(s.ok for s in steps), steps=tuple(steps))
