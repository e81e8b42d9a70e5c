"""The generated app's function (`templates/api/infer.js.j2`) for an Amazon SageMaker
endpoint, SIMULATED in Python for `edge.WebEdge`: InvokeEndpoint at SAGEMAKER_ENDPOINT_URL
signed with SigV4 (botocore's `SigV4Auth`; the AWS fake recomputes every signature) with the
SAGEMAKER_* keys, or with a role's short-lived keys from STS AssumeRole when
SAGEMAKER_ROLE_ARN is set (one session per warm instance, assumed anew once when AWS says it
expired); TGI's request shape, or KripTik's worker's job input (`APP.serving` "worker"),
whose 424 ModelError is the worker's own refusal or a FAILED job; the inference component
named on every call when the endpoint scales to zero (`APP.component`), its "no capacity"
answered at once as waking. Its answers, errors and status codes are the function's own,
word for word (AWS's refusals worded in `_edge_sagemaker_errors`).
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
import uuid
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote_plus

import httpx

from tools.simulator._edge_function import (
    FUNCTION_TIMEOUT,
    LOOPBACK,
    HttpError,
    as_object,
    chat_body,
    check_messages,
    reply_json,
    scrub,
    sse_reply,
)  # fmt: skip
from tools.simulator._edge_sagemaker_errors import aws_error, js_trim, said, worker_error
from tools.simulator._edge_targets import Upstreams, hf_payload, js_str, service_url

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_COMPONENT = "x-amzn-sagemaker-inference-component"


class SageMakerFunction:
    """The generated function for a SageMaker endpoint: each request answered directly
    (nothing queued), as `api/infer.js` does for it."""

    def __init__(self, app: dict[str, Any], env: dict[str, str], up: Upstreams) -> None:
        self.app, self.up = app, up
        self.passcode = env.get("APP_PASSCODE", "")
        self.base = (js_trim(env.get("SAGEMAKER_ACCESS_KEY_ID", "")),
                     js_trim(env.get("SAGEMAKER_SECRET_ACCESS_KEY", "")),
                     js_trim(env.get("SAGEMAKER_SESSION_TOKEN", "")))  # fmt: skip
        if not self.base[0] or not self.base[1] or not env.get("SAGEMAKER_ENDPOINT_URL"):
            raise said(500, "config")
        where = "the endpoint's page in the SageMaker console"
        self.url = service_url(env["SAGEMAKER_ENDPOINT_URL"], "SAGEMAKER_ENDPOINT_URL", where)
        self.region = js_trim(env.get("SAGEMAKER_REGION") or js_str(app.get("region") or ""))
        if not _REGION.fullmatch(self.region):
            raise said(500, "region")
        self.role = js_trim(env.get("SAGEMAKER_ROLE_ARN", ""))
        self.external_id = js_trim(env.get("SAGEMAKER_EXTERNAL_ID", ""))
        # The real default is https://sts.REGION.amazonaws.com/; here the AWS fake's STS.
        self.sts_url = env.get("SAGEMAKER_STS_URL") or f"{up.aws_url}/"
        self.secrets = [s for s in self.base[1:] if s]
        self.cache_key = f"{self.base[0]}\n{self.role}"

    async def get(self, params: httpx.QueryParams) -> httpx.Response:
        if not params.get("health"):
            raise HttpError(404, "sync")
        await self.keys()  # Free: only a role is assumed, and the endpoint is not called.
        return reply_json(200, {"ok": True, "target": "sagemaker", "workers": {}, "jobs": {}})

    async def run(self, job_input: Any) -> httpx.Response:
        if not isinstance(job_input, dict):
            raise HttpError(400, "input")
        job, done = as_object(job_input), {"status": "COMPLETED", "done": True}
        if self.app.get("serving") != "worker":
            output = await self.result(sagemaker_payload(job))
            return reply_json(200, {"id": f"sm-{uuid.uuid4()}", **done, "output": output})
        job_id = f"sm-{uuid.uuid4()}"
        try:
            output = await self.result(job)
        except HttpError as err:
            # A model that failed is a failed job, as on RunPod and Cloud Run.
            if err.code != "model_failed":
                raise
            return reply_json(200, {"id": job_id, "status": "FAILED", "done": True, "error": str(err)})  # fmt: skip
        return reply_json(200, {"id": job_id, **done, "output": output})

    async def chat(self, value: Any, *, stream: bool) -> httpx.Response:
        body = chat_body(self.app, value, self.app.get("model"))
        resp = await self.call("/openai/v1/chat/completions", body, retries=1, stream=True)
        return await sse_reply(resp, stream=stream)

    async def result(self, body: Any) -> Any:
        """The endpoint's answer: JSON, or raw image or audio as a data: URL the page shows."""
        resp = await self.call("", body, retries=2)
        ctype = (resp.headers.get("content-type") or "application/json").split(";")[0].strip()
        if not re.search("json", ctype, re.IGNORECASE):
            data = base64.b64encode(resp.content).decode()
            return {ctype.split("/")[0] or "output": f"data:{ctype};base64,{data}"}
        try:
            return json.loads(resp.content)
        except ValueError:
            raise said(502, "not_json") from None

    async def call(
        self, path: str, body: Any, *, retries: int, stream: bool = False
    ) -> httpx.Response:
        """One signed InvokeEndpoint. Retries come at once (the function's pauses only wait):
        after a 429, and once with a new role session when AWS says the session expired."""
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        accept = "text/event-stream" if stream else "application/json"
        attempt = 0
        while True:
            headers = {"content-type": "application/json"}
            if self.app.get("component"):
                headers[_COMPONENT] = js_str(self.app["component"])
            signed = sigv4(
                await self.keys(), self.region, "sagemaker", self.url + path, headers, raw
            )
            resp = await self._send(self.url + path, signed | {"accept": accept}, raw)
            if resp.is_success:
                return resp if stream else (await resp.aread(), resp)[1]
            await resp.aread()
            if self.role and attempt == 0 and _expired(resp):
                self.up.sessions.pop(self.cache_key, None)
            elif not (attempt < retries and resp.status_code == 429):
                raise self.error(resp)
            attempt += 1

    async def _send(self, url: str, headers: dict[str, str], raw: bytes) -> httpx.Response:
        if httpx.URL(url).host not in LOOPBACK:  # The simulated network reaches only the fakes.
            raise said(502, "unreachable")
        request = httpx.Request("POST", url, content=raw, headers=headers,
                                extensions={"timeout": FUNCTION_TIMEOUT})  # fmt: skip
        try:
            return await self.up.transport.handle_async_request(request)
        except httpx.TimeoutException:
            raise said(504, "timeout") from None
        except httpx.TransportError:
            raise said(502, "unreachable") from None

    async def keys(self) -> tuple[str, str, str]:
        """The keys that sign: the env's, or the role's (assumed once, reused until 5 min
        before they expire)."""
        if not self.role:
            return self.base
        sts_url = service_url(self.sts_url, "SAGEMAKER_STS_URL", "AWS's STS endpoints")
        cached = self.up.sessions.get(self.cache_key)
        if cached and cached[3] - 300_000 > time.time() * 1000:
            # The generated function scrubs a session's keys only after it assumed the role;
            # scrubbing them on every reuse too can only hide more.
            self.secrets += [cached[1], cached[2]]
            return cached[:3]
        form = {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": self.role,
                "RoleSessionName": "kriptik-webapp", "DurationSeconds": "3600"}  # fmt: skip
        if self.external_id:
            form["ExternalId"] = self.external_id
        raw = _form(form).encode()
        kind = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
        signed = sigv4(self.base, self.region, "sts", sts_url, kind, raw) | {"accept": "text/xml"}
        try:
            if httpx.URL(sts_url).host not in LOOPBACK:
                raise httpx.ConnectError("the simulator reaches only loopback")
            request = httpx.Request("POST", sts_url, content=raw, headers=signed,
                                    extensions={"timeout": FUNCTION_TIMEOUT})  # fmt: skip
            resp = await self.up.transport.handle_async_request(request)
            xml = (await resp.aread()).decode("utf-8", "replace")
        except httpx.TransportError:
            raise said(502, "sts_unreachable") from None
        keys = (_xml(xml, "AccessKeyId"), _xml(xml, "SecretAccessKey"), _xml(xml, "SessionToken"))
        if not resp.is_success or not keys[0] or not keys[1]:
            raise said(502, "sts_refused", aws=_xml(xml, "Code") or str(resp.status_code))
        self.secrets += [keys[1], keys[2]]
        self.up.sessions[self.cache_key] = (*keys, _expiry_ms(_xml(xml, "Expiration")))
        return keys

    def error(self, resp: httpx.Response) -> HttpError:
        """SageMaker Runtime's refusal as the function words it for the browser."""
        raw = resp.content.decode("utf-8", "replace")[:20000]
        if self.app.get("serving") == "worker" and resp.status_code == 424:
            return worker_error(raw, self.secrets)
        return aws_error(resp, js_trim(scrub(raw[:300], self.secrets)))


def sagemaker_payload(job_input: dict[str, Any]) -> dict[str, Any]:
    """A chat page's history as the LLM container's Messages API ({"messages", "max_tokens"},
    which applies the model's chat template); anything else as an Inference Endpoint reads it."""
    value = job_input.get("inputs")
    inputs = cast("list[Any]", value) if isinstance(value, list) else None
    if inputs is None or not all(isinstance(as_object(m).get("role"), str) for m in inputs):
        return hf_payload(job_input)
    wanted = as_object(job_input.get("parameters")).get("max_new_tokens")
    n = math.nan if wanted is None else _js_number(wanted)
    tokens = min(8192, max(1, n)) if math.isfinite(n) else 1024
    return {"messages": check_messages(inputs), "max_tokens": math.floor(tokens + 0.5)}


def sigv4(
    keys: tuple[str, ...], region: str, service: str, url: str, headers: dict[str, str],
    body: bytes,
) -> dict[str, str]:  # fmt: skip
    """`headers` signed for a POST: with X-Amz-Date, X-Amz-Security-Token (temporary keys)
    and Authorization, by botocore (which ships no type stubs)."""
    from botocore.auth import SigV4Auth  # pyright: ignore[reportMissingTypeStubs]
    from botocore.awsrequest import AWSRequest  # pyright: ignore[reportMissingTypeStubs]
    from botocore.credentials import Credentials  # pyright: ignore[reportMissingTypeStubs]

    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    credentials = Credentials(keys[0], keys[1], keys[2] or None)
    SigV4Auth(credentials, service, region).add_auth(request)  # pyright: ignore[reportUnknownMemberType]
    items: list[tuple[str, str]] = list(request.headers.items())  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    return {name.lower(): value for name, value in items}


def _expired(resp: httpx.Response) -> bool:
    """AWS refused the request for an expired session token."""
    if resp.status_code not in (400, 403):
        return False
    said = resp.headers.get("x-amzn-errortype") or resp.content.decode("utf-8", "replace")
    return "ExpiredToken" in said


def _js_number(value: Any) -> float:
    """JavaScript's Number() of a JSON value: NaN for what it cannot read."""
    if isinstance(value, bool | int | float):
        return float(value)
    if not isinstance(value, str | list):
        return math.nan  # an object
    text = js_trim(js_str(value))  # a list reads as its String(): [] is 0, [5] is 5
    if not text:
        return 0.0
    if re.fullmatch(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)", text):
        try:
            return float(int(text, 0))
        except OverflowError:
            return math.inf
    if re.fullmatch(r"[+-]?(Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)", text):
        return float(text.replace("Infinity", "inf"))
    return math.nan


def _form(fields: dict[str, str]) -> str:
    """URLSearchParams' encoding: only letters, digits and *-._ stay; a space is +."""
    pairs = (f"{quote_plus(k, safe='*')}={quote_plus(v, safe='*')}" for k, v in fields.items())
    return "&".join(pairs).replace("~", "%7E")


def _xml(xml: str, tag: str) -> str:
    """The text of the first <tag>, as the function reads STS's answer (no unescaping)."""
    found = re.search(f"<{tag}>([^<]*)</{tag}>", xml)
    return found.group(1) if found else ""


def _expiry_ms(text: str) -> float:
    """Date.parse() of STS's Expiration, in epoch ms; else an hour from now."""
    try:
        return datetime.fromisoformat(text).timestamp() * 1000
    except ValueError:
        return time.time() * 1000 + 3_600_000
