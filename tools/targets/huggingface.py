"""Hugging Face Inference Endpoints as a deploy target, through `huggingface_hub`.

Every management call is `HfApi.create_inference_endpoint`, `get_inference_endpoint`,
`list_inference_endpoints_hardware`, `delete_inference_endpoint` or an `InferenceEndpoint`
method (`fetch`, `resume`), run in a worker thread (the library is synchronous) with the
user's token passed per call, so the `HfApi` never keeps one. Only the smoke test is our own
HTTP: one request to the endpoint's URL with the cold-start 503 waited out.

- Catalog: the namespace's hardware list (`GET /v2/provider/{ns}`), GPUs only, with their
  hourly prices and the namespace's quota.
- Serving image by task: text-generation-inference for LLMs, text-embeddings-inference for
  embedding models, Hugging Face's default toolkit for the rest, or `plan.image` as a custom
  container.
- Create is keyed by `endpoint_name(plan.deployment_id)`: an endpoint of that name is
  adopted, and a 409 from a create that raced another one adopts too.
- Gated or private models: the token's read access is checked on the Hub before anything
  is created, and so is its role: a Read token (or a fine-grained one without
  "inference.endpoints.write") is refused, with the token to create instead. Offers that
  are unlisted, unavailable in their region or over quota are refused before spend too.
- A failed endpoint (the model did not load) is deleted before the error is raised, so no
  failure leaves anything billed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import httpx2
from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf
from pydantic import SecretStr

from tools.clients import _messages
from tools.clients._http import HttpApi, Retry, as_dict, with_retry
from tools.clients._messages import ProviderInfo
from tools.clients.errors import Conflict, NotFound, ProviderError, Upstream
from tools.clients.huggingface import HfIdentity, HuggingFaceClient
from tools.targets import _huggingface as rules
from tools.targets.base import (
    EndpointState,
    Progress,
    TargetEndpoint,
    TargetGpu,
    TargetName,
    TargetPlan,
    TokenSource,
)

if TYPE_CHECKING:
    from huggingface_hub import HfApi, InferenceEndpoint, InferenceEndpointHardware

__all__ = ["HF_ENDPOINTS", "HuggingFaceTarget", "endpoint_name", "use_endpoints_api"]

_T = TypeVar("_T")

HF_ENDPOINTS = ProviderInfo(
    name="Hugging Face",
    keys_url="https://huggingface.co/settings/tokens",
    status_url="https://status.huggingface.co",
    permission_hint=(
        "Inference Endpoints need a token with write access (or the fine-grained "
        "'Inference Endpoints' permissions) and a payment method on the account."
    ),
)
_STATES: dict[str, EndpointState] = {
    "pending": "pending", "initializing": "initializing", "updating": "initializing",
    "running": "ready", "scaledToZero": "scaled_to_zero", "paused": "scaled_to_zero",
    "failed": "failed", "updateFailed": "failed",
}  # fmt: skip
_BILLED = frozenset({"pending", "initializing", "updating", "running"})


def endpoint_name(deployment_id: str) -> str:
    """The endpoint's name for a deployment: stable, and within Hugging Face's rules
    (lowercase letters, digits and hyphens, at most 32). The hash keeps two ids that share
    a slug apart."""
    slug = re.sub(r"[^a-z0-9]+", "-", deployment_id.lower()).strip("-")[:20].strip("-")
    digest = hashlib.sha256(deployment_id.encode()).hexdigest()[:8]
    return f"kt-{slug}-{digest}" if slug else f"kt-{digest}"


def use_endpoints_api(base_url: str) -> None:
    """Point `huggingface_hub` at the Inference Endpoints API root `base_url`.

    The library reads this root from a module constant on every call (`HfApi(endpoint=...)`
    sets only the Hub's), so it is one value per process: the settings' value, the same for
    every user. Tests point it at the loopback fake this way.
    """
    hf_constants.INFERENCE_ENDPOINTS_ENDPOINT = base_url.rstrip("/") + "/v2"


@dataclass(frozen=True)
class _Session:
    """One user's call context: their token, their namespace, and the policies."""

    token: SecretStr
    me: HfIdentity  # the token's account (the namespace) and its role
    hub: HuggingFaceClient
    api: HttpApi  # carries the retry policy and the secrets to scrub

    @property
    def namespace(self) -> str:
        return self.me.name

    @property
    def key(self) -> str:
        return self.token.get_secret_value()


class HuggingFaceTarget:
    """`DeployTarget` for Hugging Face Inference Endpoints.

    Args:
        http: The process-wide HTTP client (the smoke test's requests).
        tokens: user id -> the user's Hugging Face token.
        hub_base_url: The Hub (settings: huggingface_base_url), for whoami and access checks.
        endpoints_base_url: The Inference Endpoints API (settings: hf_endpoints_base_url).
        retry: Retry policy; its sleep and clock also pace polling and the cold start.
        timeout_s: Per-request timeout.
        poll_s: Seconds between status reads while waiting for the endpoint.
        cold_start_s: How long the smoke test waits out 503s of a waking endpoint.
    """

    name: TargetName = "huggingface"
    credential = "huggingface"

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        hub_base_url: str,
        endpoints_base_url: str,
        retry: Retry | None = None,
        timeout_s: float = 30.0,
        poll_s: float = 10.0,
        cold_start_s: float = 600.0,
    ) -> None:
        use_endpoints_api(endpoints_base_url)
        self._http, self._tokens, self._hub_url = http, tokens, hub_base_url
        self._endpoints_url = endpoints_base_url
        self._retry = retry or Retry()
        self._timeout_s, self._poll_s, self._cold_start_s = timeout_s, poll_s, cold_start_s

    @cached_property
    def _api(self) -> HfApi:
        # Built on the first call: huggingface_hub's HfApi module is 18 MiB, and the web app
        # builds this target at start. token=False: never a saved login or HF_TOKEN; each
        # call passes the user's key.
        from huggingface_hub import HfApi

        return HfApi(endpoint=self._hub_url, token=False, library_name="kriptik")

    def __repr__(self) -> str:
        return f"HuggingFaceTarget(endpoints_base_url={self._endpoints_url!r})"

    # ---- DeployTarget -------------------------------------------------------------------
    async def catalog(self, user_id: str) -> list[TargetGpu]:
        """The GPU offers the user's namespace may deploy on now, with hourly prices."""
        s = await self._session(user_id)
        source = (
            f"Hugging Face Inference Endpoints API (GET /v2/provider/{s.namespace}), "
            f"read {self._retry.clock().date().isoformat()}"
        )
        return [rules.offer(hw, source) for hw in await self._hardware(s) if rules.usable(hw)]

    async def create(self, user_id: str, plan: TargetPlan) -> TargetEndpoint:
        """Create the endpoint for `plan`, or adopt the one that already has its name."""
        s, name = await self._session(user_id), endpoint_name(plan.deployment_id)
        if (refusal := rules.token_refusal(s.me)) is not None:
            raise refusal  # a Read token cannot create endpoints: refused before spend
        await s.hub.auth_check(plan.repo_id)  # gated, private or missing: refused before spend
        existing = await self._find(s, name)
        if existing is not None:
            return _endpoint_of(existing, s)
        hw = rules.checked_offer(plan.gpu, await self._hardware(s), plan.max_replicas)
        try:
            created = await self._call(s, "create", lambda: self._create(s, name, plan, hw), name)
        except Conflict:
            created = await self._get(s, name)  # a create that raced ours made it: adopt it
        return _endpoint_of(created, s)

    async def wait_ready(
        self, user_id: str, plan: TargetPlan, progress: Progress, *, timeout_s: float
    ) -> TargetEndpoint:
        """Poll until the endpoint runs (or sits scaled to zero, ready to wake).

        A failed endpoint is deleted, then reported; on timeout the endpoint is left for
        the caller to keep waiting on or to tear down.
        """
        s, name = await self._session(user_id), endpoint_name(plan.deployment_id)
        ep = await self._get(s, name)
        started, last = self._retry.clock(), ""
        while True:
            state = rules.state_of(ep)
            if state != last:
                last = state
                await progress(rules.progress_text(state, name, plan))
            if state in ("failed", "updateFailed"):
                raise await self._failed(s, ep, plan)
            if state in ("running", "scaledToZero") and ep.url:
                return _endpoint_of(ep, s)
            if state == "paused":
                await self._call(s, "resume", ep.resume, name)
            elapsed = (self._retry.clock() - started).total_seconds()
            if elapsed >= timeout_s:
                raise rules.not_ready_in_time(name, elapsed, state)
            await self._retry.sleep(self._poll_s)
            await self._call(s, "fetch", ep.fetch, name)

    async def smoke_test(
        self,
        user_id: str,
        endpoint: TargetEndpoint,
        payload: dict[str, Any],
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """One request through the endpoint's URL; a waking endpoint's 503s are waited out
        (backoff on the injected clock). Returns the status, the output and the wait."""
        if endpoint.url is None:
            raise rules.no_url(endpoint.resource_id)
        token = await self._tokens(user_id)
        once = Retry(max_attempts=1, sleep=self._retry.sleep, clock=self._retry.clock)
        api = HttpApi(http=self._http, base_url=endpoint.url, info=HF_ENDPOINTS, token=token,
                      timeout_s=self._timeout_s, retry=once)  # fmt: skip
        started, delay = self._retry.clock(), 2.0
        while True:
            try:
                resp, body = await api.exchange(
                    "POST", "", json=payload, what=f"the endpoint {endpoint.resource_id}"
                )
            except Upstream as err:
                waited = (self._retry.clock() - started).total_seconds()
                if err.status != 503 or waited + delay > self._cold_start_s:
                    raise rules.cold_start_failed(endpoint.resource_id, err, waited) from None
                await self._retry.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            waited = (self._retry.clock() - started).total_seconds()
            return {"status": resp.status_code, "output": body, "cold_start_s": waited}

    async def teardown(self, user_id: str, plan: TargetPlan) -> bool:
        """Delete the endpoint; one that is already gone counts as removed."""
        s, name = await self._session(user_id), endpoint_name(plan.deployment_id)
        await self._delete(s, name)
        return True

    async def running_usd_per_hour(
        self, user_id: str, endpoint: TargetEndpoint, plan: TargetPlan
    ) -> float | None:
        """The instance's hourly price times the replicas billed now (0 when scaled to zero
        or gone); None when the catalog no longer lists the instance."""
        s = await self._session(user_id)
        ep = await self._find(s, endpoint.resource_id)
        if ep is None or rules.state_of(ep) not in _BILLED:
            return 0.0
        hw = rules.hardware_of(rules.raw_of(ep), await self._hardware(s))
        if hw is None:
            return None
        status = as_dict(rules.raw_of(ep).get("status"))
        replicas = max(int(status.get("targetReplica") or 0), int(status.get("readyReplica") or 0))
        return round(hw.price_per_hour * max(replicas, 1), 4)

    # ---- huggingface_hub calls ----------------------------------------------------------
    async def _session(self, user_id: str) -> _Session:
        token = await self._tokens(user_id)
        hub = HuggingFaceClient(http=self._http, base_url=self._hub_url, token=token,
                                timeout_s=self._timeout_s, retry=self._retry)  # fmt: skip
        me = await hub.whoami()  # the namespace: the token owner's account
        api = HttpApi(http=self._http, base_url=self._endpoints_url, info=HF_ENDPOINTS,
                      token=token, timeout_s=self._timeout_s, retry=self._retry)  # fmt: skip
        return _Session(token, me, hub, api)

    def _create(self, s: _Session, name: str, plan: TargetPlan, hw: InferenceEndpointHardware):
        scale_to_zero = (
            rules.idle_minutes(plan.idle_scale_to_zero_s) if plan.min_replicas == 0 else None
        )
        return self._api.create_inference_endpoint(  # pyright: ignore[reportUnknownMemberType]
            name, repository=plan.repo_id, revision=plan.revision, task=plan.task,
            framework="pytorch", accelerator=hw.accelerator, instance_size=hw.instance_size,
            instance_type=hw.instance_type, region=hw.region, vendor=hw.vendor,
            min_replica=plan.min_replicas, max_replica=plan.max_replicas,
            scale_to_zero_timeout=scale_to_zero, custom_image=rules.serving_image(plan, hw),
            type="authenticated", tags=["kriptik"], namespace=s.namespace, token=s.key,
        )  # fmt: skip

    async def _hardware(self, s: _Session) -> list[InferenceEndpointHardware]:
        fn = lambda: self._api.list_inference_endpoints_hardware(  # noqa: E731
            namespace=s.namespace, token=s.key
        )
        return await self._call(s, "hardware", fn, "the hardware catalog")

    async def _get(self, s: _Session, name: str) -> InferenceEndpoint:
        fn = lambda: self._api.get_inference_endpoint(name, namespace=s.namespace, token=s.key)  # noqa: E731
        return await self._call(s, "get", fn, name)

    async def _find(self, s: _Session, name: str) -> InferenceEndpoint | None:
        try:
            return await self._get(s, name)
        except NotFound:
            return None

    async def _delete(self, s: _Session, name: str) -> None:
        fn = lambda: self._api.delete_inference_endpoint(name, namespace=s.namespace, token=s.key)  # noqa: E731
        try:
            await self._call(s, "delete", fn, name)
        except NotFound:
            pass  # already gone: nothing is left, which is what teardown promises

    async def _failed(self, s: _Session, ep: InferenceEndpoint, plan: TargetPlan) -> ProviderError:
        """Delete a failed endpoint (it may still hold an instance), then say why it failed."""
        detail = rules.status_message(ep, s.api.secrets())
        await self._delete(s, ep.name)
        return rules.model_failed(plan.repo_id, ep.name, detail)

    async def _call(self, s: _Session, label: str, fn: Callable[[], _T], what: str) -> _T:
        """Run one `huggingface_hub` call in a worker thread, retried as the policy allows
        (every call here is safe to repeat: a repeated create meets a 409 and adopts)."""

        async def once() -> _T:
            try:
                # On timeout the worker thread lingers until the library's own timeout.
                return await asyncio.wait_for(asyncio.to_thread(fn), self._timeout_s * 2)
            except TimeoutError:
                raise _messages.timed_out(
                    HF_ENDPOINTS, self._timeout_s, request_sent=True
                ) from None
            except (json.JSONDecodeError, KeyError, TypeError):
                raise _messages.malformed(HF_ENDPOINTS, 200, request_id=None) from None
            except hf.HfHubHTTPError as err:
                raise rules.error_of(err, what, s.api.secrets(), self._retry.clock()) from None
            except httpx2.TransportError as err:
                raise rules.transport_error(err, self._endpoints_url, self._timeout_s) from None

        return await with_retry(once, retry=s.api.retry, idempotent=True, label=f"hf {label}")


def _endpoint_of(ep: InferenceEndpoint, s: _Session) -> TargetEndpoint:
    state = _STATES.get(rules.state_of(ep), "pending")
    ready = state in ("ready", "scaled_to_zero")
    message = rules.status_message(ep, s.api.secrets()) if state == "failed" else ""
    return TargetEndpoint(
        target="huggingface",
        resource_id=ep.name,
        url=ep.url if ready else None,
        state=state,
        message=message,
    )
