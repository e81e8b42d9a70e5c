"""Turn an HTTP failure into the `ProviderError` a user reads.

Each provider contributes a `ProviderInfo` (its name, where keys are made, its status
page, what extra access writes need). The message templates live here, once, so every
client speaks the same way: what happened, with the status code, then the next step.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote, quote_plus

from tools.clients.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderPermissionError,
    RateLimited,
    Timeout,
    Unreachable,
    Upstream,
)
from vault.redact import encoded_forms

# Header names that providers use for a request id, in the order we trust them.
_REQUEST_ID_HEADERS = (
    "x-github-request-id",
    "x-vercel-id",
    "x-nf-request-id",
    "x-request-id",
    "request-id",
    "cf-ray",
)
_DETAIL_MAX = 300


@dataclass(frozen=True)
class ProviderInfo:
    """What the messages need to know about a provider.

    Attributes:
        name: Display name, e.g. "RunPod".
        keys_url: Where the user creates or replaces a key.
        status_url: The provider's status page, if it has one.
        permission_hint: One sentence on the access KripTik's calls need.
    """

    name: str
    keys_url: str
    status_url: str | None = None
    permission_hint: str = "The key is valid but lacks the permission this action needs."


def request_id(headers: Mapping[str, str]) -> str | None:
    """The provider's request id from response headers, if any."""
    for name in _REQUEST_ID_HEADERS:
        if value := headers.get(name):
            return value
    return None


def scrub(text: str, secrets: Sequence[str]) -> str:
    """Remove every secret from provider text before we keep it: raw, URL-encoded and
    base64 (a Basic header, a token echoed encoded), as `vault.redact` knows the forms."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) >= 4:
            forms |= {secret, quote(secret, safe=""), quote_plus(secret)}
            forms |= encoded_forms(secret)
    # Longest first: a shorter form inside a longer one must not break the longer one up.
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "[redacted]")
    return text


def detail_of(body: object, secrets: Sequence[str]) -> str | None:
    """The provider's own error text from a JSON error body, trimmed and scrubbed.

    Understands RunPod's `ErrorResponse{title,detail,errors}`, GitHub's `{message,errors}`,
    OpenRouter's and Vercel's `{error:{code,message}}`, Netlify's `{code,message}` and
    Hugging Face's `{error}`.
    """
    parts: list[str] = []
    if isinstance(body, dict):
        data = cast("dict[str, Any]", body)
        error = data.get("error")
        if isinstance(error, dict):
            data = cast("dict[str, Any]", error)
        elif isinstance(error, str):
            parts.append(error)
        for key in ("detail", "message"):
            if isinstance(value := data.get(key), str) and value:
                parts.append(value)
                break
        errors = data.get("errors")
        if isinstance(errors, list):
            for item in cast("list[Any]", errors)[:3]:
                if isinstance(item, str):
                    parts.append(item)
                elif isinstance(item, dict):
                    msg: object = cast("dict[str, Any]", item).get("message")
                    if isinstance(msg, str):
                        parts.append(msg)
    elif isinstance(body, str) and body.strip():
        parts.append(body)
    if not parts:
        return None
    text = " ".join(re.sub(r"\s+", " ", p).strip() for p in parts)
    text = scrub(text, secrets)
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"


def retry_after_s(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """Seconds to wait, from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Reset`."""
    if raw := headers.get("retry-after"):
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                return None
            return max(0.0, (when - now).total_seconds())
    if raw := headers.get("x-ratelimit-reset"):
        try:
            epoch = float(raw)
        except ValueError:
            return None
        if epoch > 1e11:  # OpenRouter reports milliseconds, GitHub and Vercel seconds.
            epoch /= 1000
        return max(0.0, epoch - now.timestamp())
    return None


def _status_hint(info: ProviderInfo) -> str:
    return f" (status: {info.status_url})" if info.status_url else ""


def _with(detail: str | None) -> str:
    return f": {detail.rstrip('.')}" if detail else ""


def error_for_status(
    info: ProviderInfo,
    status: int,
    *,
    detail: str | None,
    request_id: str | None,
    retry_after: float | None,
    what: str,
    bad_key: bool = False,
    rate_limited: bool = False,
) -> ProviderError:
    """The `ProviderError` for an HTTP error status, with its user-facing message."""
    cls, message = _classify(info, status, detail, retry_after, what, bad_key, rate_limited)
    if cls is None:
        return malformed(info, status, request_id=request_id)
    return cls(
        message,
        provider=info.name,
        status=status,
        request_id=request_id,
        retry_after=retry_after,
    )


def _classify(
    info: ProviderInfo,
    status: int,
    detail: str | None,
    retry_after: float | None,
    what: str,
    bad_key: bool,
    rate_limited: bool,
) -> tuple[type[ProviderError] | None, str]:
    name = info.name
    if status == 401 or bad_key:
        return AuthError, (
            f"{name} rejected the key ({status}). Create a new one at {info.keys_url}, "
            "then paste it here."
        )
    if status == 429 or rate_limited:
        wait = f"Wait {retry_after:.0f} s" if retry_after is not None else "Wait a minute"
        return RateLimited, f"{name} is rate-limiting requests ({status}). {wait} and try again."
    if status == 403:
        return ProviderPermissionError, (
            f"{name} refused this request (403){_with(detail)}. {info.permission_hint} "
            f"Create a key with that access at {info.keys_url}, then paste it here."
        )
    if status == 404:
        return NotFound, (
            f"{name} could not find {what} (404). Check the name or id, and that it belongs "
            "to the account of this key."
        )
    if status == 409:
        return Conflict, (
            f"{name} reports a conflict for {what} (409){_with(detail)}. It may exist already "
            "or have changed meanwhile: look it up and reuse it, or pick another name."
        )
    if status >= 500:
        return Upstream, (
            f"{name} had a server error ({status}). The problem is on {name}'s side: try again "
            f"in a few minutes{_status_hint(info)}."
        )
    if 400 <= status < 500:
        return InvalidRequest, (
            f"{name} rejected the request ({status}){_with(detail)}. Correct the value it "
            "names and try again."
        )
    return None, ""


def malformed(info: ProviderInfo, status: int, *, request_id: str | None) -> Upstream:
    """A response whose body cannot be read, or does not have the documented shape."""
    return Upstream(
        f"{info.name} sent a response that could not be read (HTTP {status}). Try again in a "
        f"few minutes; if it keeps happening, {info.name}'s API may have changed.",
        provider=info.name,
        status=status,
        request_id=request_id,
    )


def timed_out(info: ProviderInfo, timeout_s: float, *, request_sent: bool) -> Timeout:
    """No answer within the timeout."""
    return Timeout(
        f"{info.name} did not answer within {timeout_s:g} s. Try again in a few "
        f"minutes{_status_hint(info)}.",
        provider=info.name,
        request_sent=request_sent,
    )


def unreachable(info: ProviderInfo, host: str, *, request_sent: bool) -> Unreachable:
    """The connection failed (`request_sent=False`) or dropped mid-answer."""
    what = (
        f"The connection to {info.name} at {host} dropped before the answer arrived"
        if request_sent
        else f"Could not reach {info.name} at {host}"
    )
    return Unreachable(
        f"{what}. Check the network connection and try again.",
        provider=info.name,
        request_sent=request_sent,
    )
