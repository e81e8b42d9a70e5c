"""The generated app's `api/infer` function (`templates/api/infer.js.j2`), SIMULATED in
Python for `edge.WebEdge`: its config read from the deployed source, its env vars from the
project or site, its calls sent with the credential it holds to the fake of its target (the
RunPod job fake; a Hugging Face endpoint's inference URL on the Inference Endpoints fake; a
Cloud Run service's URL on the Cloud Run fake, with an ID token minted from the service-account
key at the Google OAuth fake; a SageMaker endpoint's InvokeEndpoint URL on the AWS fake, signed
with SigV4), and its own answers, errors and status codes, word for word.
No Node.js is needed.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import httpx

FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_ROLES = frozenset({"system", "user", "assistant"})
_JOB_ID, _ENDPOINT_ID = re.compile(r"[A-Za-z0-9_-]{1,128}"), re.compile(r"[A-Za-z0-9_-]{1,64}")
APP_CONFIG = re.compile(r"^const APP = (.*);$", re.MULTILINE)  # the function's one config line
FUNCTION_TIMEOUT = httpx.Timeout(25.0).as_dict()  # the function's own limit on RunPod's first byte
_BASE = {"cache-control": "no-store", "x-content-type-options": "nosniff"}
_SSE = {**_BASE, "content-type": "text/event-stream; charset=utf-8", "x-accel-buffering": "no"}
# vercel.json's and netlify.toml's headers for every page.
# The types the web hosts send for a generated app's files. Fixed here, not read from the
# machine's /etc/mime.types, which differs between machines (.js: application/javascript).
_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript", "mjs": "text/javascript",
          "css": "text/css", "json": "application/json", "svg": "image/svg+xml",
          "png": "image/png", "ico": "image/x-icon", "txt": "text/plain"}  # fmt: skip
_PAGE = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}  # fmt: skip
_SAY = {  # The generated function's own words, verbatim.
    "config": "The server is not configured: set RUNPOD_API_KEY and RUNPOD_ENDPOINT_ID (in .env when running locally, or in the host's environment variables), then restart or redeploy.",
    "endpoint": "RUNPOD_ENDPOINT_ID is not a RunPod endpoint id; copy it from the RunPod console.",
    "crash": "The function failed unexpectedly; see its logs.",
    "timeout": "RunPod did not answer within 25 s. Try again; a cold worker may still be starting.",
    "unreachable": "Could not reach RunPod. Check the server's network, then try again.",
    "not_json": "RunPod sent an answer that is not JSON. Try again in a minute.",
    "401": "RunPod rejected the server's API key ({n}). Create a key at https://www.runpod.io/console/user/settings, set RUNPOD_API_KEY, then restart or redeploy.",
    "404": "RunPod does not know this endpoint or job (404). Check RUNPOD_ENDPOINT_ID; job results expire 30 minutes after they finish.",
    "429": "RunPod is rate-limiting requests (429). Wait a moment, then try again.",
    "400": "RunPod rejected the request ({n}){detail}",
    "502": "RunPod failed ({n}). Try again in a minute; see https://status.runpod.io.",
    "job_id": "Pass ?id=JOB_ID (from POST /api/infer), or ?health=1.",
    "input": 'input must be a JSON object: {"input": {...}}.', "chat": 'Send {"chat": {"messages": [...]}}.',
    "no_chat": 'This endpoint has no chat route; send {"input": {...}}.',
    "messages": "chat.messages must be a list of 1 to 200 messages.",
    "message": "Each message needs a role (system, user or assistant) and a text content.",
    "no_body": "Send a JSON body.", "too_big": "The request is larger than 4 MB.",
    "bad_json": "The request body is not valid JSON.", "not_object": "Send a JSON object.",
    "method": "Use GET or POST.", "passcode": "This app needs its passcode.",
    "job": 'Send {"input": {...}} to run a job.',
    "job_or_chat": 'Send {"input": {...}} to run a job, or {"chat": {"messages": [...]}} to chat.',
    # Hugging Face and Cloud Run: the same function rendered for another target.
    "t_config": "The server is not configured: set {key} and {where} (in .env when running locally, or in the host's environment variables), then restart or redeploy.",
    "t_url": "{name} is not a URL; copy it from {where}, then restart or redeploy.",
    "t_timeout": "{label} did not answer within 25 s. Try again; a cold worker may still be starting.",
    "t_unreachable": "Could not reach {label}. Check the server's network, then try again.",
    "t_not_json": "{label} sent an answer that is not JSON. Try again in a minute.",
    "t_401_huggingface": "Hugging Face rejected the server's token ({n}). Use a token with access to the endpoint (https://huggingface.co/settings/tokens), set HF_TOKEN, then restart or redeploy.",
    "t_401_cloudrun": "Cloud Run refused the server's identity token ({n}). Check that CLOUD_RUN_URL is the service's own URL, then restart or redeploy.",
    "t_404_huggingface": "Hugging Face does not know this endpoint (404). Check HF_ENDPOINT_URL; a deleted endpoint must be deployed again.",
    "t_404_cloudrun": "Cloud Run does not know this service (404). Check CLOUD_RUN_URL; a deleted service must be deployed again.",
    "t_invoker": "The service account may not call the Cloud Run service (403). Grant it roles/run.invoker on the service, then try again.",
    "t_429": "{label} is rate-limiting requests (429). Wait a moment, then try again.",
    "t_400": "{label} rejected the request ({n}){detail}", "t_502": "{label} failed ({n}). Try again in a minute.",
    "waking": "Waking the model up… An endpoint scaled to zero takes a few minutes to start; the page keeps asking.",
    "sync": "This app's requests run synchronously: POST /api/infer answers with the result, and nothing is kept to look up. Send ?health=1 to check the server.",
    "sa_key": "GCP_SERVICE_ACCOUNT_JSON is not a service-account JSON key. Create one in the Google Cloud console (IAM > Service accounts > Keys) for an account with roles/run.invoker, then set it and redeploy.",
    "google_unreachable": "Could not reach Google's token endpoint. Try again in a minute.",
    "google_refused": "Google refused the server's service-account key ({n}); it may be deleted or disabled. Create a new JSON key (IAM > Service accounts > Keys), set GCP_SERVICE_ACCOUNT_JSON, then restart or redeploy.",
}  # fmt: skip


class HttpError(Exception):
    """An answer the function gives instead of a result (its `HttpError`)."""

    def __init__(self, status: int, say: str, *, code: str | None = None,
                 headers: dict[str, str] | None = None, words: Mapping[str, str] = _SAY,
                 **values: object) -> None:  # fmt: skip
        # `words`: another target's own sentences (SageMaker's are in `_edge_sagemaker_errors`).
        super().__init__(words[say].format(**values) if values else words[say])  # some hold {}
        self.status, self.code, self.headers = status, code, headers or {}


@dataclass(frozen=True)
class Site:
    """One deployed app, as its host serves it."""

    host: str  # "vercel" or "netlify": whose 404 page, and whether a function can stream
    files: dict[str, bytes]  # URL path ("/index.html") -> content
    function: bytes | None  # the source of the deployed `api/infer.js`
    routes: frozenset[str]  # the URL paths that run the function
    env: dict[str, str]


def scrub(text: str, secrets: list[str]) -> str:
    """No answer may be the first to carry a secret: raw, encodeURIComponent, base64 (the
    generated function's `scrub`, for every target)."""
    forms = [form for secret in secrets for form in
             (secret, quote(secret, safe="!*'()"), base64.b64encode(secret.encode()).decode()) if form]  # fmt: skip
    return functools.reduce(lambda out, form: out.replace(form, "[redacted]"), forms, text)


def reply_json(status: int, value: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    body = json.dumps(value, separators=(",", ":")).encode()  # as JSON.stringify writes it
    ctype = {"content-type": "application/json; charset=utf-8"}
    return httpx.Response(status, headers={**_BASE, **ctype, **(headers or {})}, content=body)


def not_found(host: str, deployment: bool) -> httpx.Response:
    """The host's own 404 page (never the function's JSON)."""
    if host == "netlify":
        return httpx.Response(404, text="Not Found", headers={"content-type": "text/plain"})
    code, what = ("DEPLOYMENT_NOT_FOUND", "deployment") if deployment else ("NOT_FOUND", "page")
    text = f"The {what} could not be found{' on Vercel' if deployment else ''}.\n\n{code}\n"
    return httpx.Response(404, text=text, headers={"x-vercel-error": code})


def as_object(value: Any) -> dict[str, Any]:
    """A JSON object as a typed dict, or {} (as JavaScript reads fields of a non-object)."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


class AppFunction:
    """The generated `api/infer.js` with its config and env, calling the RunPod job fake."""

    def __init__(self, site: Site, jobs_url: str, transport: httpx.AsyncBaseTransport) -> None:
        match = APP_CONFIG.search((site.function or b"").decode())
        if match is None:  # The module would not load: the host answers with its 500.
            raise HttpError(500, "crash")
        self.app = as_object(json.loads(match.group(1)))
        self.key = site.env.get("RUNPOD_API_KEY", "").strip()
        endpoint = site.env.get("RUNPOD_ENDPOINT_ID", "").strip()
        if not self.key or not endpoint:
            raise HttpError(500, "config")
        if not _ENDPOINT_ID.fullmatch(endpoint):
            raise HttpError(500, "endpoint")
        # The real function calls api.runpod.ai (or RUNPOD_API_BASE); here only the fake may.
        self.url, self.transport = f"{jobs_url}/v2/{endpoint}", transport
        self.passcode = site.env.get("APP_PASSCODE", "")

    def scrub(self, text: str) -> str:
        return scrub(text, [self.key])

    async def call(self, method: str, path: str, body: Any = None, *, retries: int = 0,
                   only_429: bool = False, stream: bool = False) -> httpx.Response:  # fmt: skip
        """One call to RunPod. Retries come at once: the function's backoff only waits."""
        accept = "text/event-stream" if stream else "application/json"
        headers = {"authorization": f"Bearer {self.key}", "accept": accept}
        for attempt in range(retries + 1):
            request = httpx.Request(method, self.url + path, json=body, headers=headers,
                                    extensions={"timeout": FUNCTION_TIMEOUT})  # fmt: skip
            try:
                resp = await self.transport.handle_async_request(request)
            except httpx.TransportError as err:
                # A dropped connection may have reached RunPod: only a GET is safe to resend.
                if method == "GET" and attempt < retries:
                    continue
                late = isinstance(err, httpx.TimeoutException)
                raise HttpError(*((504, "timeout") if late else (502, "unreachable"))) from None
            if resp.status_code < 400 and stream:
                return resp  # The reply flows on; only the wait for its first byte was timed.
            await resp.aread()
            retry = resp.status_code == 429 or (resp.status_code >= 500 and not only_429)
            if resp.status_code < 400 or not (retry and attempt < retries):
                return resp if resp.status_code < 400 else self.fail(resp)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def fail(self, resp: httpx.Response) -> httpx.Response:
        """Raise RunPod's error as the function words it for the browser."""
        n, detail = resp.status_code, self.scrub(resp.text[:300]).strip()
        if n in (401, 403):
            raise HttpError(502, "401", n=n)
        if n in (404, 429):
            after = resp.headers.get("retry-after") if n == 429 else None
            raise HttpError(n, str(n), headers={"retry-after": after} if after else None)
        if n in (400, 422):
            raise HttpError(400, "400", n=n, detail=f": {detail}" if detail else ".")
        raise HttpError(502, "502", n=n)

    async def get(self, params: httpx.QueryParams) -> httpx.Response:
        if params.get("health"):
            health = _data(await self.call("GET", "/health", retries=2))
            workers, jobs = as_object(health.get("workers")), as_object(health.get("jobs"))
            return reply_json(200, {"ok": True, "workers": workers, "jobs": jobs})
        job_id = params.get("id", "")
        if not _JOB_ID.fullmatch(job_id):
            raise HttpError(400, "job_id")
        job = _data(await self.call("GET", f"/status/{job_id}", retries=2))
        status = job.get("status")
        out = {"id": job.get("id") or job_id, "status": status, "done": status in FINAL_STATES}
        for key in ("output", "error", "delayTime", "executionTime"):
            if key in job:
                out[key] = self.scrub(str(job[key])) if key == "error" else job[key]
        return reply_json(200, out)

    async def run(self, job_input: Any) -> httpx.Response:
        if not isinstance(job_input, dict):
            raise HttpError(400, "input")
        # A queued job costs GPU time: retry only when RunPod said it did not take it.
        sent = await self.call("POST", "/run", {"input": job_input}, retries=2, only_429=True)
        job = _data(sent)
        return reply_json(202, {"id": job.get("id"), "status": job.get("status") or "IN_QUEUE"})

    async def chat(self, value: Any, *, stream: bool) -> httpx.Response:
        body = chat_body(self.app, value, self.app.get("model"))
        path = "/openai/v1/chat/completions"
        resp = await self.call("POST", path, body, retries=1, only_429=True, stream=True)
        return await sse_reply(resp, stream=stream)


def chat_body(app: dict[str, Any], value: Any, model: Any) -> dict[str, Any]:
    """The function's `chat`: checked, then the OpenAI-style streamed request it sends."""
    if app.get("mode") != "openai":
        raise HttpError(400, "no_chat")
    if not isinstance(value, dict):
        raise HttpError(400, "chat")
    chat = as_object(value)
    return {"model": model, "messages": check_messages(chat.get("messages")), "stream": True,
            "max_tokens": math.floor(_bounded(chat.get("max_tokens"), 1, 8192, 1024) + 0.5),
            "temperature": _bounded(chat.get("temperature"), 0, 2, 0.7)}  # fmt: skip


async def sse_reply(resp: httpx.Response, *, stream: bool) -> httpx.Response:
    """The upstream's event stream, as it comes (Vercel) or whole (Netlify cannot stream)."""
    if stream:
        return httpx.Response(200, headers=_SSE, stream=resp.stream)
    return httpx.Response(200, headers=_SSE, content=await resp.aread())


def _data(resp: httpx.Response) -> dict[str, Any]:
    try:
        return as_object(resp.json())
    except ValueError:
        raise HttpError(502, "not_json") from None


def _bounded(value: Any, low: float, high: float, fallback: float) -> float:
    try:
        n = float(value)  # JavaScript's Number(): numbers and numeric strings
    except (TypeError, ValueError):
        return fallback
    return min(high, max(low, n)) if math.isfinite(n) else fallback


def check_messages(value: Any) -> list[dict[str, str]]:
    items = cast("list[Any]", value) if isinstance(value, list) else []
    if not 1 <= len(items) <= 200:
        raise HttpError(400, "messages")
    out: list[dict[str, str]] = []
    for m in map(as_object, items):
        role, content = m.get("role"), m.get("content")
        if role not in _ROLES or not isinstance(content, str) or len(content) > 100_000:
            raise HttpError(400, "message")
        out.append({"role": str(role), "content": content})
    return out


def payload_of(raw: bytes) -> dict[str, Any]:
    if not raw or len(raw) > 4 * 1024 * 1024:
        raise HttpError(413, "too_big") if raw else HttpError(400, "no_body")
    try:
        value = json.loads(raw)
    except ValueError:
        raise HttpError(400, "bad_json") from None
    if not isinstance(value, dict):
        raise HttpError(400, "not_object")
    return as_object(value)


def static_file(site: Site, request: httpx.Request) -> httpx.Response:
    path = "/index.html" if request.url.path == "/" else request.url.path
    raw = site.files.get(path)
    if raw is None or path in ("/_redirects", "/_headers"):  # Netlify's config, never served
        return not_found(site.host, deployment=False)
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    ctype = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return httpx.Response(200, headers={**_PAGE, "content-type": ctype}, content=raw)
