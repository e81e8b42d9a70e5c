"""The generated app's function (`templates/api/infer.js.j2`) for the deploy targets beside
RunPod, SIMULATED in Python for `edge.WebEdge` (RunPod's is `_edge_function.AppFunction`):
a Hugging Face endpoint called with the HF token, its cold-start 503s waited out up to
WAKE_WAIT_S; a private Cloud Run service called with an ID token minted from the
service-account key at the Google OAuth fake (SageMaker's is `_edge_sagemaker`). Its
answers, errors and status codes are the function's own, word for word.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlencode

import httpx
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from tools.simulator._edge_function import (
    FINAL_STATES,
    FUNCTION_TIMEOUT,
    LOOPBACK,
    HttpError,
    as_object,
    chat_body,
    reply_json,
    scrub,
    sse_reply,
)  # fmt: skip

# ---- Hugging Face Inference Endpoints and Cloud Run: the function rendered for those targets --
_LABEL = {"huggingface": "Hugging Face", "cloudrun": "Cloud Run"}
_URL = re.compile(r"^https?://[^\s/?#@]+(/[^\s?#]*)?$")
_TOKEN_URI = re.compile(r"^https://|^http://(127\.0\.0\.1|localhost)[:/]")
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_MAIN_INPUTS = ("prompt", "text", "input", "query", "image", "url")


@dataclass
class Upstreams:
    """Where the function's calls land in the simulator, and what it keeps between requests.

    The real function calls api.runpod.ai, the endpoint's or service's URL, the key's
    `token_uri` (oauth2.googleapis.com) and AWS STS (sts.REGION.amazonaws.com unless
    SAGEMAKER_STS_URL says); here only the fakes on loopback may answer, so the key's token
    endpoint is always the Google OAuth fake's (and the JWT's `aud` with it), and STS is the
    AWS fake's unless SAGEMAKER_STS_URL names another."""

    jobs_url: str  # the RunPod job fake
    token_url: str  # the Google OAuth fake's `/token`
    transport: httpx.AsyncBaseTransport
    # The function's ID_TOKENS: one mint per instance and hour (key id, email, URL -> token).
    id_tokens: dict[str, tuple[str, float]] = field(default_factory=dict[str, tuple[str, float]])
    aws_url: str = ""  # the AWS fake (its STS)
    # The SageMaker function's SESSIONS: one AssumeRole per instance and hour (key id + role
    # -> the role's key id, secret, session token, and when they expire in epoch ms).
    sessions: dict[str, tuple[str, str, str, float]] = field(
        default_factory=dict[str, tuple[str, str, str, float]]
    )


@dataclass(frozen=True)
class _Account:
    """The service-account key as the function reads it."""

    email: str
    key_id: str
    key: RSAPrivateKey = field(repr=False)
    pem: str = field(repr=False)


class TargetFunction:
    """The generated function for a Hugging Face endpoint or a private Cloud Run service:
    each request answered directly (nothing queued), as `api/infer.js` does for them."""

    def __init__(
        self, app: dict[str, Any], target: str, env: dict[str, str], up: Upstreams
    ) -> None:
        self.app, self.target, self.label, self.up = app, target, _LABEL[target], up
        self.passcode = env.get("APP_PASSCODE", "")
        self.wake_ms: float | None = None  # Hugging Face only: how long a 503 is waited out
        self.account: _Account | None = None  # Cloud Run only
        key_name, where_name = ("HF_TOKEN", "HF_ENDPOINT_URL") if target == "huggingface" else (
            "GCP_SERVICE_ACCOUNT_JSON", "CLOUD_RUN_URL")  # fmt: skip
        key = env.get(key_name, "").strip()
        if not key or not env.get(where_name):
            raise HttpError(500, "t_config", key=key_name, where=where_name)
        if target == "huggingface":
            self.url = service_url(
                env[where_name], where_name, "the endpoint's page on huggingface.co"
            )
            self.wake_ms = _env_number(env.get("WAKE_WAIT_S"), 0, 280, 20) * 1000
            self.secrets = [key]
        else:
            where = "the service's page in the Google Cloud console"
            self.url = service_url(env[where_name], where_name, where)
            self.account = _service_account(key)
            self.secrets = [key, self.account.pem]
        self.key = key
        account = self.account
        self.cache_key = f"{account.key_id}\n{account.email}\n{self.url}" if account else ""

    async def get(self, params: httpx.QueryParams) -> httpx.Response:
        if not params.get("health"):
            raise HttpError(404, "sync")
        if self.account is not None:  # Cloud Run's check mints a token; Hugging Face's is free.
            await self.bearer()
        return reply_json(200, {"ok": True, "target": self.target, "workers": {}, "jobs": {}})

    async def run(self, job_input: Any) -> httpx.Response:
        if not isinstance(job_input, dict):
            raise HttpError(400, "input")
        if self.target == "huggingface":
            output = await self.result("", hf_payload(as_object(job_input)))
            done = {"id": f"hf-{uuid.uuid4()}", "status": "COMPLETED", "done": True}
            return reply_json(200, {**done, "output": output})
        value = await self.result("/runsync", {"input": job_input})
        if value is None:  # `null.status` throws in the function: its own 500.
            raise HttpError(500, "crash")
        job = as_object(value)
        status = job.get("status")
        status = status if isinstance(status, str) and status in FINAL_STATES else "FAILED"
        out: dict[str, Any] = {"id": js_str(job.get("id")) if job.get("id") else f"run-{uuid.uuid4()}",
                               "status": status, "done": True}  # fmt: skip
        if "output" in job:
            out["output"] = job["output"]
        if status != "COMPLETED":
            said = (
                job.get("error") or f"The worker answered {js_str(job.get('status'), 'undefined')}."
            )
            out["error"] = self.scrub(js_str(said), [])
        return reply_json(200, out)

    async def chat(self, value: Any, *, stream: bool) -> httpx.Response:
        hf = self.target == "huggingface"  # text-generation-inference serves one model: "tgi"
        body = chat_body(self.app, value, "tgi" if hf else self.app.get("model"))
        path = "/v1/chat/completions" if hf else "/openai/v1/chat/completions"
        resp = await self.call(path, body, retries=1, stream=True)
        return await sse_reply(resp, stream=stream)

    async def result(self, path: str, body: Any) -> Any:
        """A request's answer: Hugging Face's JSON or media, Cloud Run's JSON."""
        resp = await self.call(path, body, retries=2)
        ctype = (resp.headers.get("content-type") or "application/json").split(";")[0].strip()
        if self.target == "huggingface" and not re.search("json", ctype, re.IGNORECASE):
            data = base64.b64encode(resp.content).decode()
            return {ctype.split("/")[0] or "output": f"data:{ctype};base64,{data}"}
        try:
            return resp.json()
        except ValueError:
            raise HttpError(502, "t_not_json", label=self.label) from None

    def scrub(self, text: str, extra: list[str]) -> str:
        return scrub(text, [*self.secrets, *extra])

    async def bearer(self) -> str:
        return self.key if self.account is None else await self._id_token(self.account)

    async def call(
        self, path: str, body: Any, *, retries: int, stream: bool = False
    ) -> httpx.Response:
        """One POST to the endpoint or service. Retries come at once; the function's pauses
        are counted, not waited, so a scaled-to-zero endpoint gets WAKE_WAIT_S of them."""
        waited_ms, attempt = 0.0, 0
        accept = "text/event-stream" if stream else "application/json"
        while True:
            token = await self.bearer()
            headers = {
                "authorization": f"Bearer {token}",
                "content-type": "application/json",
                "accept": accept,
            }
            request = httpx.Request("POST", self.url + path, json=body, headers=headers,
                                    extensions={"timeout": FUNCTION_TIMEOUT})  # fmt: skip
            resp = await self._send(request)
            if resp.is_success:
                return resp if stream else (await resp.aread(), resp)[1]
            await resp.aread()
            again = self._again(
                resp, attempt, attempt < retries and resp.status_code == 429, waited_ms
            )
            if again is None:
                raise self._error(resp, token)
            advised = None if again == "wake" else resp.headers.get("retry-after")
            waited_ms += _pause_ms(min(attempt, 4), advised)
            attempt += 1

    async def _send(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in LOOPBACK:  # The simulated network reaches only the fakes.
            raise HttpError(502, "t_unreachable", label=self.label)
        try:
            return await self.up.transport.handle_async_request(request)
        except httpx.TimeoutException:
            raise HttpError(504, "t_timeout", label=self.label) from None
        except httpx.TransportError:
            raise HttpError(502, "t_unreachable", label=self.label) from None

    def _again(
        self, resp: httpx.Response, attempt: int, allowed: bool, waited_ms: float
    ) -> str | None:
        """ "wake" while a scaled-to-zero endpoint answers 503 (until WAKE_WAIT_S, then the
        page is told to wait), "renew" once when Cloud Run refused a cached ID token."""
        if resp.status_code == 503 and self.wake_ms is not None:
            if waited_ms >= self.wake_ms:
                raise HttpError(503, "waking", code="waking", headers={"retry-after": "10"})
            return "wake"
        if resp.status_code == 401 and self.account is not None and attempt == 0:
            self.up.id_tokens.pop(self.cache_key, None)
            return "renew"
        return "retry" if allowed else None

    def _error(self, resp: httpx.Response, token: str) -> HttpError:
        n, label = resp.status_code, self.label
        detail = self.scrub(resp.text[:300], [token]).strip()
        if n == 403 and self.target == "cloudrun":
            return HttpError(502, "t_invoker")
        if n in (401, 403):
            return HttpError(502, f"t_401_{self.target}", n=n)
        if n == 404:
            return HttpError(404, f"t_404_{self.target}")
        if n == 429:
            after = resp.headers.get("retry-after")
            return HttpError(
                429, "t_429", label=label, headers={"retry-after": after} if after else None
            )
        if n in (400, 422):
            return HttpError(
                400, "t_400", label=label, n=n, detail=f": {detail}" if detail else "."
            )
        return HttpError(502, "t_502", label=label, n=n)

    async def _id_token(self, account: _Account) -> str:
        """A Google ID token for the service URL: an RS256 JWT exchanged at the token fake."""
        now = math.floor(time.time())
        cached = self.up.id_tokens.get(self.cache_key)
        if cached and cached[1] - 300 > now:
            return cached[0]
        claims = {"iss": account.email, "sub": account.email, "aud": self.up.token_url,
                  "iat": now, "exp": now + 3600, "target_audience": self.url}  # fmt: skip
        signing = (
            f"{_b64url({'alg': 'RS256', 'typ': 'JWT', 'kid': account.key_id})}.{_b64url(claims)}"
        )
        signature = account.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        form = urlencode(
            {"grant_type": _JWT_BEARER, "assertion": f"{signing}.{_b64url(signature)}"}
        )
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
        }
        request = httpx.Request("POST", self.up.token_url, content=form.encode(), headers=headers,
                                extensions={"timeout": FUNCTION_TIMEOUT})  # fmt: skip
        try:
            resp = await self.up.transport.handle_async_request(request)
            await resp.aread()
        except httpx.TransportError:
            raise HttpError(502, "google_unreachable") from None
        try:
            token = as_object(resp.json()).get("id_token")
        except ValueError:
            token = None
        if not resp.is_success or not isinstance(token, str) or not token:
            raise HttpError(502, "google_refused", n=resp.status_code)
        self.up.id_tokens[self.cache_key] = (token, _token_expiry(token, now))
        return token


def service_url(value: str, name: str, where: str) -> str:
    url = value.strip().rstrip("/")
    if not _URL.match(url):
        raise HttpError(500, "t_url", name=name, where=where)
    return url


def _service_account(raw: str) -> _Account:
    """The service-account JSON key (raw, or base64 to fit one line of .env)."""
    try:
        data = json.loads(raw if raw.startswith("{") else _lenient_b64(raw))
    except ValueError:
        data = None
    key: object = None
    if isinstance(data, dict):
        try:  # Never the parser's message: it could quote the key.
            pem = as_object(data).get("private_key") or ""
            key = serialization.load_pem_private_key(js_str(pem).encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None
    fields = as_object(data)
    token_uri = js_str(fields.get("token_uri") or "")
    if (
        not isinstance(key, RSAPrivateKey)
        or not fields.get("client_email")
        or not _TOKEN_URI.match(token_uri)
    ):
        raise HttpError(500, "sa_key")
    email, key_id = js_str(fields["client_email"]), js_str(fields.get("private_key_id") or "")
    return _Account(email, key_id, key, js_str(fields["private_key"]))


def hf_payload(job_input: dict[str, Any]) -> dict[str, Any]:
    """The worker's job input as an Inference Endpoint reads it: {"inputs", "parameters"?}."""
    if "inputs" in job_input:
        parameters = job_input.get("parameters")
        return {"inputs": job_input["inputs"]} | (
            {"parameters": parameters} if isinstance(parameters, dict) else {}
        )
    # A KripTik worker's input names its main value (prompt, text...); the rest are parameters.
    main = next((k for k in _MAIN_INPUTS if isinstance(job_input.get(k), str)), None)
    if main is None:
        return {"inputs": job_input}
    parameters = {k: v for k, v in job_input.items() if k != main}
    return {"inputs": job_input[main]} | ({"parameters": parameters} if parameters else {})


def _pause_ms(attempt: int, retry_after: str | None) -> float:
    """How long the function would pause: Retry-After (at most 5 s), else its backoff's
    longest draw (300 ms doubling), so a wait is never counted shorter than it could be."""
    try:
        advised = float(retry_after or 0) * 1000
    except ValueError:
        advised = 0.0
    return min(advised, 5000) if math.isfinite(advised) and advised > 0 else 300 * 2**attempt


def _env_number(value: str | None, low: float, high: float, fallback: float) -> float:
    """The function's `bounded()` of an env var: JavaScript's Number() ("" is 0)."""
    if value is None:
        return fallback
    text = value.strip()
    try:
        n = float(text or "0") if "_" not in text else math.nan
    except ValueError:
        n = math.nan
    return min(high, max(low, n)) if math.isfinite(n) else fallback


def js_str(value: Any, missing: str = "undefined") -> str:
    """JavaScript's String() of a JSON value."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if v is None else js_str(v) for v in cast("list[Any]", value))
    return str(value)


def _lenient_b64(raw: str) -> str:
    """Node's Buffer.from(raw, "base64"): both alphabets, other characters skipped."""
    cleaned = re.sub(r"[^A-Za-z0-9+/_-]", "", raw.split("=", 1)[0]).translate(
        str.maketrans("-_", "+/")
    )
    cleaned = cleaned[: len(cleaned) - (len(cleaned) % 4 == 1)]
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4)).decode("utf-8", "replace")


def _b64url(value: object) -> str:
    raw = (
        value
        if isinstance(value, bytes)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _token_expiry(token: str, now: float) -> float:
    """The `exp` claim of Google's ID token, else one hour."""
    try:
        part = token.split(".")[1]
        exp = float(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["exp"])
        return exp if math.isfinite(exp) else now + 3600
    except (IndexError, KeyError, ValueError, TypeError):
        return now + 3600
