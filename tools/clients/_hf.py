"""Plumbing for the Hugging Face client: thread calls into `HfApi`, small-file reads,
and the mapping of Hub errors to our tree.

`HfApi` raises `RepositoryNotFoundError`, `GatedRepoError`, `RevisionNotFoundError`,
`RemoteEntryNotFoundError` or a plain `HfHubHTTPError`, chosen from the `X-Error-Code`
response header; its transport raises `httpx2` errors. Each becomes a `ProviderError`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast
from urllib.parse import quote

import httpx
import httpx2
from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf
from pydantic import BaseModel, ConfigDict

from tools.clients import _messages
from tools.clients._http import HttpApi, path_segment, with_retry
from tools.clients._messages import ProviderInfo
from tools.clients.errors import (
    GatedRepo,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderPermissionError,
)
from tools.sizing.repo_ids import is_hub_repo_id

if TYPE_CHECKING:
    from huggingface_hub import HfApi

_T = TypeVar("_T")

# `HfApi` builds a user agent per request, and with telemetry on it looks the calling
# "agent harness" up in a registry fetched from `constants.ENDPOINT` (huggingface.co, not
# the `endpoint=` we give it) once per process, and caches it on disk. We send nothing to
# any host but the configured Hub; this also drops the torch version from the user agent.
hf_constants.HF_HUB_DISABLE_TELEMETRY = True

HUGGINGFACE = ProviderInfo(
    name="Hugging Face",
    keys_url="https://huggingface.co/settings/tokens",
    status_url="https://status.huggingface.co",
    permission_hint="Reading private or gated models needs a token with read access to them.",
)


def gated(repo_id: str, status: int, request_id: str | None) -> GatedRepo:
    """The repo is gated and this account has not been granted access yet."""
    return GatedRepo(
        f"{repo_id} is a gated model and this Hugging Face account has no access yet ({status})."
        f" Request access at https://huggingface.co/{repo_id} (signed in as the token's owner),"
        " wait for approval, then try again.",
        provider=HUGGINGFACE.name,
        status=status,
        request_id=request_id,
    )


def missing_repo(repo_id: str, status: int, request_id: str | None) -> NotFound:
    """No such repo, or a private one this token cannot see."""
    return NotFound(
        f"Hugging Face could not find the model {repo_id} ({status}). Check the id (owner/name);"
        " if it is private, use a token of an account that can see it.",
        provider=HUGGINGFACE.name,
        status=status,
        request_id=request_id,
    )


def missing_revision(repo_id: str, revision: str | None, request_id: str | None) -> NotFound:
    return NotFound(
        f"The model {repo_id} has no revision {revision!r} (404). Use a branch, tag or commit"
        " that exists, or leave the revision out for the default branch.",
        provider=HUGGINGFACE.name,
        status=404,
        request_id=request_id,
    )


def from_code(
    code: str | None,
    status: int,
    *,
    repo_id: str,
    revision: str | None,
    request_id: str | None,
) -> ProviderError | None:
    """The error for a Hub `X-Error-Code`, or None when the code says nothing special."""
    if code == "GatedRepo":
        return gated(repo_id, status, request_id)
    if code == "RepoNotFound":
        return missing_repo(repo_id, status, request_id)
    if code == "RevisionNotFound":
        return missing_revision(repo_id, revision, request_id)
    return None


def from_hf(
    err: Exception,
    *,
    repo_id: str,
    revision: str | None,
    secrets: list[str],
    now: datetime,
    timeout_s: float,
    host: str,
) -> ProviderError:
    """A `huggingface_hub` or `httpx2` exception as a `ProviderError`."""
    if isinstance(err, httpx2.TimeoutException):
        sent = not isinstance(err, httpx2.ConnectTimeout | httpx2.PoolTimeout)
        return _messages.timed_out(HUGGINGFACE, timeout_s, request_sent=sent)
    if isinstance(err, httpx2.TransportError):
        sent = not isinstance(err, httpx2.ConnectError)
        return _messages.unreachable(HUGGINGFACE, host, request_sent=sent)
    if isinstance(err, hf.SafetensorsParsingError):
        return _messages.malformed(HUGGINGFACE, 200, request_id=None)
    if not isinstance(err, hf.HfHubHTTPError):
        raise err
    status = err.response.status_code
    rid = err.request_id or _messages.request_id(err.response.headers)
    if isinstance(err, hf.GatedRepoError):
        return gated(repo_id, status, rid)
    if isinstance(err, hf.RepositoryNotFoundError):
        return missing_repo(repo_id, status, rid)
    if isinstance(err, hf.RevisionNotFoundError):
        return missing_revision(repo_id, revision, rid)
    if isinstance(err, hf.DisabledRepoError):
        return ProviderPermissionError(
            f"Hugging Face has disabled the model {repo_id} ({status}); it cannot be used.",
            provider=HUGGINGFACE.name,
            status=status,
            request_id=rid,
        )
    if isinstance(err, hf.RemoteEntryNotFoundError):
        return NotFound(
            f"The model {repo_id} has no such file (404).",
            provider=HUGGINGFACE.name,
            status=404,
            request_id=rid,
        )
    detail = _messages.scrub(err.server_message or "", secrets) or None
    wait = _messages.retry_after_s(err.response.headers, now=now) if status in (429, 503) else None
    return _messages.error_for_status(
        HUGGINGFACE,
        status,
        detail=detail,
        request_id=rid,
        retry_after=wait,
        what=f"the model {repo_id}",
    )


class HfIdentity(BaseModel):
    """Who a token belongs to, and its role ("read", "write" or "fineGrained")."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str = "user"
    fullname: str | None = None
    email: str | None = None
    orgs: tuple[str, ...] = ()
    token_name: str | None = None
    token_role: Literal["read", "write", "fineGrained"] | None = None
    # A fine-grained token's permissions on the account itself and its global ones
    # ("inference.endpoints.write", ...); empty for read and write tokens.
    token_permissions: tuple[str, ...] = ()


def identity_fields(data: dict[str, Any]) -> dict[str, Any]:
    """`HfIdentity` fields from a `whoami-v2` answer."""
    auth: dict[str, Any] = data.get("auth") or {}
    token: dict[str, Any] = auth.get("accessToken") or {}
    orgs: list[dict[str, Any]] = data.get("orgs") or []
    return {
        "name": data.get("name"), "kind": data.get("type", "user"),
        "fullname": data.get("fullname"), "email": data.get("email"),
        "orgs": [str(o.get("name")) for o in orgs],
        "token_name": token.get("displayName"), "token_role": token.get("role"),
        "token_permissions": _own_permissions(token.get("fineGrained") or {}, data.get("name")),
    }  # fmt: skip


def _own_permissions(grants: dict[str, Any], account: object) -> list[str]:
    """A fine-grained token's global permissions and those scoped to `account` itself."""
    everywhere: list[Any] = grants.get("global") or []
    scopes: list[dict[str, Any]] = grants.get("scoped") or []
    held = [str(p) for p in everywhere]
    for scope in scopes:
        entity: dict[str, Any] = scope.get("entity") or {}
        permissions: list[Any] = scope.get("permissions") or []
        if entity.get("name") == account:
            held += [str(p) for p in permissions]
    return held


def whoami(hub: HfApi, key: str) -> dict[str, Any]:
    """`HfApi.whoami` with its answer typed (the library declares a bare `dict`)."""
    data: dict[str, Any] = hub.whoami(key)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return data


def json_object(raw: bytes, *, repo_id: str, filename: str) -> dict[str, Any]:
    """Parse a repo file as a JSON object, or say clearly that it is not one."""
    try:
        data: object = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidRequest(
            f"{filename} in {repo_id} is not a JSON object, so it cannot be read as one.",
            provider=HUGGINGFACE.name,
            status=200,
        )
    return cast("dict[str, Any]", data)


def valid_repo_id(repo_id: str) -> str:
    """The repo id, checked, since it becomes part of a URL path."""
    if not is_hub_repo_id(repo_id):
        raise InvalidRequest(
            f"{repo_id!r} is not a Hugging Face model id; use the form owner/name, "
            "e.g. meta-llama/Llama-3.1-8B-Instruct.",
            provider=HUGGINGFACE.name,
        )
    return repo_id


async def call_hub(
    api: HttpApi,
    label: str,
    fn: Callable[[], _T],
    *,
    repo_id: str = "",
    revision: str | None = None,
) -> _T:
    """Run a synchronous `HfApi` call in a worker thread, with our timeouts and retries."""

    def context() -> dict[str, Any]:
        return {
            "repo_id": repo_id, "revision": revision, "secrets": api.secrets(),
            "now": api.retry.clock(), "timeout_s": api.timeout_s,
            "host": httpx.URL(api.base_url).host,
        }  # fmt: skip

    async def once() -> _T:
        try:
            # On timeout the worker thread lingers until HfApi's own timeout ends it.
            return await asyncio.wait_for(asyncio.to_thread(fn), api.timeout_s * 2)
        except TimeoutError:
            raise from_hf(httpx2.ReadTimeout("no answer"), **context()) from None
        except json.JSONDecodeError:
            # HfApi parses the answer itself: a body that is not JSON is a malformed answer.
            raise _messages.malformed(HUGGINGFACE, 200, request_id=None) from None
        except (hf.HfHubHTTPError, hf.SafetensorsParsingError, httpx2.TransportError) as err:
            raise from_hf(err, **context()) from None

    return await with_retry(once, retry=api.retry, idempotent=True, label=label)


async def read_file(
    api: HttpApi, repo_id: str, filename: str, revision: str | None, limit: int
) -> bytes | None:
    """At most `limit` bytes of a repo file (one Range request), or None when it is absent."""
    rev = path_segment(revision or "main")
    path = f"/{valid_repo_id(repo_id)}/resolve/{rev}/{quote(filename)}"
    resp, _ = await api.exchange(
        "GET", path, headers={"Range": f"bytes=0-{limit - 1}"}, ok={200, 206, 401, 403, 404},
        parse=False, follow_redirects=True, what=f"the model {repo_id}",
    )  # fmt: skip
    if resp.status_code in (200, 206):
        return resp.content[:limit]
    code, rid = resp.headers.get("x-error-code"), _messages.request_id(resp.headers)
    if code == "EntryNotFound" or (resp.status_code == 404 and code is None):
        return None
    err = from_code(code, resp.status_code, repo_id=repo_id, revision=revision, request_id=rid)
    raise err or api.error_from(resp, f"the model {repo_id}")
