"""SageMaker's refusals as the generated app's function (`templates/api/infer.js.j2`) words
them, for the SIMULATED function of `_edge_sagemaker`: its sentences verbatim; AWS's error
code (the x-amzn-ErrorType header, else the body's __type) mapped to the function's answer;
a 424 ModelError from KripTik's worker read for its status and message (OriginalStatusCode
and OriginalMessage, else what AWS's Message quotes); secrets scrubbed; and the few
JavaScript string semantics the function's reading depends on (its whitespace, truthiness).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import httpx

from tools.simulator._edge_function import HttpError, as_object, scrub
from tools.simulator._edge_targets import js_str

__all__ = ["WORDS", "aws_error", "js_trim", "said", "worker_error"]

_WS = "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"  # JS's \s
_QUOTED = re.compile(rf' with message "([\s\S]*)"(?:\. See |{_WS}*\Z)')
WORDS = {  # The generated function's own words for SageMaker, verbatim.
    "config": "The server is not configured: set SAGEMAKER_ACCESS_KEY_ID, SAGEMAKER_SECRET_ACCESS_KEY and SAGEMAKER_ENDPOINT_URL (in .env when running locally, or in the host's environment variables), then restart or redeploy.",
    "region": "SAGEMAKER_REGION is not an AWS region (e.g. us-east-1); set the endpoint's region, then redeploy.",
    "sts_unreachable": "Could not reach AWS STS to assume SAGEMAKER_ROLE_ARN. Try again in a minute.",
    "sts_refused": "AWS refused to let the server's keys assume SAGEMAKER_ROLE_ARN ({aws}). Check the role's trust policy, SAGEMAKER_EXTERNAL_ID and the keys, then restart or redeploy.",
    "credentials": "AWS refused the server's credentials ({aws}). Check SAGEMAKER_ACCESS_KEY_ID, SAGEMAKER_SECRET_ACCESS_KEY (and SAGEMAKER_SESSION_TOKEN for temporary keys), then restart or redeploy.",
    "denied": "The server's AWS credentials may not call this endpoint (AccessDenied). Allow sagemaker:InvokeEndpoint on it in their IAM policy, then try again.",
    "cold": "Waking the model up… The SageMaker endpoint scaled to zero while idle and is starting the model again, which takes several minutes. Try again in a minute; the page keeps asking.",
    "unnamed": "This SageMaker endpoint runs its model as an inference component, which this app does not name. Generate the app again from the deployment, then redeploy.",
    "gone": "SageMaker does not know this endpoint. Check SAGEMAKER_ENDPOINT_URL and SAGEMAKER_REGION; a deleted endpoint must be deployed again.",
    "throttled": "SageMaker is throttling requests. Wait a moment, then try again.",
    "rejected": "SageMaker rejected the request ({aws}){detail}",
    "failed": "SageMaker failed ({aws}). Try again in a minute.",
    "refused_input": "The model's worker refused the input: {message}. Change the input as it says, then run it again.",
    "too_large": "The input is too large for the model's worker: {message}. Send a smaller one.",
    "model_failed": "The model failed on this input: {message}",
    "no_reason": "no reason given; see the endpoint's CloudWatch logs",
    "timeout": "SageMaker did not answer within 25 s. Try again; a cold worker may still be starting.",
    "unreachable": "Could not reach SageMaker. Check the server's network, then try again.",
    "not_json": "SageMaker sent an answer that is not JSON. Try again in a minute.",
}  # fmt: skip


def said(status: int, say: str, *, code: str | None = None,
          headers: dict[str, str] | None = None, **values: object) -> HttpError:  # fmt: skip
    """An answer in the function's own words for SageMaker (`WORDS[say]`)."""
    return HttpError(status, say, code=code, headers=headers, words=WORDS, **values)


def aws_error(resp: httpx.Response, detail: str) -> HttpError:
    """SageMaker Runtime's refusal, by AWS's error code (the x-amzn-ErrorType header, else
    the body's __type), as the function words it."""
    status, code = resp.status_code, (resp.headers.get("x-amzn-errortype") or "").split(":")[0]
    if not code:
        try:
            parsed: Any = json.loads(detail)
        except ValueError:
            parsed = None
        kind = as_object(parsed).get("__type")
        code = (js_str(kind) if js_truthy(kind) else "").split("#")[-1]
    if re.search("Signature|UnrecognizedClient|InvalidClientTokenId|ExpiredToken", code):
        return said(502, "credentials", aws=code)
    if "AccessDenied" in code:
        return said(502, "denied")
    if code == "ValidationError" and re.search("no capacity", detail, re.IGNORECASE):
        return said(503, "cold", code="waking", headers={"retry-after": "60"})
    if code == "ValidationError" and re.search(
        "Inference Component Name header is required", detail, re.IGNORECASE
    ):
        return said(502, "unnamed")
    if code == "ValidationError" and re.search("not found", detail, re.IGNORECASE):
        return said(404, "gone")
    if status == 429 or "Throttl" in code:
        return said(429, "throttled")
    if code == "ModelError" or status in (400, 424):
        return said(400, "rejected", aws=code or status, detail=f": {detail}" if detail else ".")
    return said(502, "failed", aws=code or status)


def worker_error(raw: str, secrets: list[str]) -> HttpError:
    """SageMaker's 424 ModelError from KripTik's worker: its status (OriginalStatusCode, else
    the one AWS's Message quotes) and its own message (OriginalMessage, else the quoted body;
    its "error" when that is JSON)."""
    try:
        body = as_object(json.loads(raw))
    except ValueError:
        body = {}
    told = next((js_str(v) for v in (body.get("Message"), body.get("message")) if js_truthy(v)), "")
    quoted = _QUOTED.search(told)
    original = body.get("OriginalMessage")
    original = original if isinstance(original, str) else quoted.group(1) if quoted else ""
    status = body.get("OriginalStatusCode")
    if not _integer(status):  # Number.isInteger()
        found = re.search(r" error \(([0-9]{3})\) from ", told)
        status = int(found.group(1)) if found else 0
    message = original
    try:
        parsed = json.loads(original)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and js_truthy(err := as_object(parsed).get("error")):
        message = js_str(err)
    message = js_trim(re.sub(f"{_WS}+", " ", scrub(message, secrets)))[:500]
    message = re.sub(f"^invalid input:{_WS}*", "", message, flags=re.IGNORECASE)
    message = re.sub(rf"[.{_WS[1:-1]}]+\Z", "", message) or WORDS["no_reason"]
    if status == 400:
        return said(400, "refused_input", code="invalid_input", message=message)
    if status == 413:
        return said(413, "too_large", message=message)
    return said(502, "model_failed", code="model_failed", message=message)


def _integer(value: Any) -> bool:
    """JavaScript's Number.isInteger()."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value == math.floor(value)


def js_trim(text: str) -> str:
    """JavaScript's trim(): its whitespace, not Python's."""
    return re.sub(rf"^{_WS}+|{_WS}+\Z", "", text)


def js_truthy(value: Any) -> bool:
    """JavaScript's truthiness of a JSON value (an empty list or object is true)."""
    if isinstance(value, bool | int | float):
        return bool(value) and not math.isnan(value)
    return value is not None and value != ""
