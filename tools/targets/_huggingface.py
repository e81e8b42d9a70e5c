"""The Hugging Face target's rules, apart from its calls: which offers count, which serving
image fits a task, and the messages each failure shows the user (what to do next)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx2
from huggingface_hub import errors as hf

from tools.clients import _messages
from tools.clients._hf import HfIdentity
from tools.clients._http import as_dict
from tools.clients._messages import ProviderInfo
from tools.clients.errors import (
    AuthError,
    InvalidRequest,
    ProviderError,
    ProviderPermissionError,
    Timeout,
    Upstream,
)
from tools.targets.base import TargetGpu, TargetPlan

_NAME = "Hugging Face"
_INFO = ProviderInfo(name=_NAME, keys_url="https://huggingface.co/settings/tokens",
                     status_url="https://status.huggingface.co")  # fmt: skip
_AVAILABLE = frozenset({"available", "low_availability"})
# Pinned serving images. TEI publishes one build per GPU generation; "1.8" is Ampere (A100).
TGI_IMAGE = "ghcr.io/huggingface/text-generation-inference:3.3.4"
_TEI = "ghcr.io/huggingface/text-embeddings-inference:{}1.8"
_TEI_ARCH = {"nvidia-t4": "turing-", "nvidia-a10g": "86-", "nvidia-l4": "89-",
             "nvidia-l40s": "89-", "nvidia-h100": "hopper-", "nvidia-h200": "hopper-"}  # fmt: skip
LLM_TASKS = frozenset({"text-generation", "image-text-to-text"})
EMBEDDING_TASKS = frozenset({"feature-extraction", "sentence-similarity"})
# Our own worker image listens where Cloud Run expects it.
_WORKER_PORT = 8080

if TYPE_CHECKING:
    from huggingface_hub import InferenceEndpoint, InferenceEndpointHardware


# ---- the catalog ------------------------------------------------------------------------
def offer_id(hw: InferenceEndpointHardware) -> str:
    return f"{hw.vendor}/{hw.region}/{hw.instance_type}/{hw.instance_size}"


def usable(hw: InferenceEndpointHardware) -> bool:
    """A GPU offer that can be deployed now."""
    return hw.accelerator == "gpu" and hw.status in _AVAILABLE and hw.num_accelerators > 0


def offer(hw: InferenceEndpointHardware, source: str) -> TargetGpu:
    """One hardware entry as the target's priced offer."""
    count = max(hw.num_accelerators, 1)
    per_gpu = (hw.gpu_memory_gb or 0) / count
    return TargetGpu(
        target="huggingface", offer_id=offer_id(hw), gpu_memory_gib=per_gpu, gpu_count=count,
        label=f"{hw.architecture} {per_gpu:g} GB x{count} (Hugging Face, {hw.vendor} {hw.region})",
        usd_per_hour=hw.price_per_hour, region=hw.region, source=source,
    )  # fmt: skip


def checked_offer(
    gpu: TargetGpu, hardware: list[InferenceEndpointHardware], replicas: int
) -> InferenceEndpointHardware:
    """The hardware behind the approved offer, or a clear refusal before any spend."""
    hw = next((h for h in hardware if offer_id(h) == gpu.offer_id), None)
    if hw is None or hw.accelerator != "gpu":
        raise InvalidRequest(
            f"Hugging Face does not offer {gpu.offer_id} to this account. Pick a GPU from the "
            "current Hugging Face catalog.",
            provider=_NAME,
        )
    where = f"{hw.vendor} {hw.region}"
    if hw.status not in _AVAILABLE:
        raise InvalidRequest(
            f"No {hw.architecture} is available in {where} on Hugging Face right now "
            f"({hw.status}). Pick another GPU or region, or try again later.",
            provider=_NAME,
        )
    need = hw.num_accelerators * replicas
    if hw.used_accelerators + need > hw.max_accelerators:
        raise quota_exceeded(
            f"{hw.used_accelerators} of {hw.max_accelerators} {hw.architecture} GPUs in use, "
            f"{need} more needed"
        )
    return hw


def hardware_of(
    raw: dict[str, Any], hardware: list[InferenceEndpointHardware]
) -> InferenceEndpointHardware | None:
    """The catalog entry an endpoint runs on, or None when the catalog lacks it."""
    compute, provider = as_dict(raw.get("compute")), as_dict(raw.get("provider"))
    key = (provider.get("vendor"), provider.get("region"), compute.get("instanceType"),
           compute.get("instanceSize"))  # fmt: skip
    return next(
        (h for h in hardware if (h.vendor, h.region, h.instance_type, h.instance_size) == key),
        None,
    )


# ---- the plan ---------------------------------------------------------------------------
def idle_minutes(idle_s: int) -> int:
    """Hugging Face counts the scale-to-zero idle time in whole minutes (at least one)."""
    return max(1, math.ceil(idle_s / 60))


def serving_image(plan: TargetPlan, hw: InferenceEndpointHardware) -> dict[str, Any] | None:
    """The container for the model's task: `None` is Hugging Face's default toolkit."""
    if plan.image:
        # A flat dict with `url` is sent as `{"custom": ...}` by huggingface_hub.
        return {"url": plan.image, "port": _WORKER_PORT, "healthRoute": "/health"}
    if plan.task in LLM_TASKS:
        return {"tgi": {"url": TGI_IMAGE, "port": 80, "healthRoute": "/health"}}
    if plan.task in EMBEDDING_TASKS:
        tei = _TEI.format(_TEI_ARCH.get(hw.instance_type, ""))
        return {"tei": {"url": tei, "port": 80, "healthRoute": "/health"}}
    return None


# ---- the endpoint -----------------------------------------------------------------------
def raw_of(ep: InferenceEndpoint) -> dict[str, Any]:
    """The API's answer behind `ep` (the library types it as a bare `dict`)."""
    return as_dict(ep.raw)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]


def state_of(ep: InferenceEndpoint) -> str:
    """The endpoint's state as the API spells it ("running", "scaledToZero", ...)."""
    return str(as_dict(raw_of(ep).get("status")).get("state") or "")


def status_message(ep: InferenceEndpoint, secrets: list[str]) -> str:
    """The provider's own status message, scrubbed of the key."""
    text = str(as_dict(raw_of(ep).get("status")).get("message") or "")
    return _messages.scrub(text, secrets)[:500]


def progress_text(state: str, name: str, plan: TargetPlan) -> str:
    texts = {
        "pending": f"Hugging Face is provisioning {plan.gpu.label} for {name}.",
        "initializing": f"Hugging Face is starting the server and loading {plan.repo_id}.",
        "updating": f"Hugging Face is updating {name}.",
        "running": f"The endpoint {name} is ready.",
        "scaledToZero": f"The endpoint {name} is scaled to zero; its first request starts it.",
        "paused": f"The endpoint {name} was paused; resuming it.",
    }
    return texts.get(state, f"The endpoint {name} is {state}.")


# ---- errors -----------------------------------------------------------------------------
ENDPOINTS_WRITE = "inference.endpoints.write"
_WRITE_TOKEN_URL = "https://huggingface.co/settings/tokens/new?tokenType=write"  # noqa: S105 (a URL)


def token_refusal(me: HfIdentity) -> ProviderPermissionError | None:
    """Why this token cannot create Inference Endpoints, told before anything is created:
    a Read token, or a fine-grained one without "inference.endpoints.write" (whoami-v2's
    `auth.accessToken`); None for a Write token, or a token whose role is not reported."""
    if me.token_role == "read":  # noqa: S105 (a role)
        what = "is a Read token: it reads models but cannot create Inference Endpoints"
    elif me.token_role == "fineGrained" and ENDPOINTS_WRITE not in me.token_permissions:  # noqa: S105
        what = (f"is fine-grained without the Inference Endpoints permission ({ENDPOINTS_WRITE}) "
                f"on {me.name}")  # fmt: skip
    else:
        return None
    return ProviderPermissionError(
        f"Your stored Hugging Face token {what}. Create a Write token at {_WRITE_TOKEN_URL} "
        "(or a fine-grained token with the Inference Endpoints permissions: manage, and make "
        "calls to, Inference Endpoints), then replace the stored one: paste it when the chat "
        "asks, or run `kriptik keys add huggingface`. Nothing was created.",
        provider=_NAME, status=403,
    )  # fmt: skip


def quota_exceeded(detail: str) -> ProviderPermissionError:
    return ProviderPermissionError(
        f"Your Hugging Face GPU quota is used up ({detail.rstrip('.')}). Delete an endpoint you "
        "no longer need, pick another GPU, or ask Hugging Face to raise the quota.",
        provider=_NAME,
        status=400,
    )


def model_failed(repo_id: str, name: str, detail: str) -> InvalidRequest:
    said = f": {detail.rstrip('.')}" if detail else ""
    return InvalidRequest(
        f"The model {repo_id} failed to load on Hugging Face{said}. The endpoint {name} was "
        "deleted, so nothing is billed. Try a larger GPU, another revision, or a custom image.",
        provider=_NAME,
    )


def not_ready_in_time(name: str, elapsed: float, state: str) -> Timeout:
    return Timeout(
        f"The endpoint {name} is still {state} after {elapsed:.0f} s. Keep waiting, or tear "
        "it down to stop its charges.",
        provider=_NAME,
    )


def no_url(name: str) -> InvalidRequest:
    return InvalidRequest(
        f"The endpoint {name} has no URL yet: wait until it is ready.", provider=_NAME
    )


def cold_start_failed(name: str, err: ProviderError, waited: float) -> ProviderError:
    """A smoke test that failed: a cold start that outlasted the wait, or another error."""
    if err.status != 503:
        return err
    return Upstream(
        f"The endpoint {name} was still starting after {waited:.0f} s (503). An endpoint "
        "scaled to zero takes a few minutes to wake: try the request again shortly.",
        provider=_NAME,
        status=503,
    )


def error_of(err: hf.HfHubHTTPError, what: str, secrets: list[str], now: datetime) -> ProviderError:
    """A management API error as the user's next step."""
    status = err.response.status_code
    rid = err.request_id or _messages.request_id(err.response.headers)
    detail = _messages.scrub(err.server_message or "", secrets)
    lowered = detail.lower()
    if status == 401:
        return AuthError(
            f"Hugging Face rejected the token (401): it was revoked or has expired. Create a "
            f"new one with write access at {_INFO.keys_url}, then paste it here.",
            provider=_NAME, status=401, request_id=rid,
        )  # fmt: skip
    if status in (400, 403) and "quota" in lowered:
        return quota_exceeded(detail)
    if status == 400 and ("capacity" in lowered or "not available" in lowered):
        return InvalidRequest(
            f"Hugging Face has no capacity for this GPU in the region now ({detail.rstrip('.')})."
            " Pick another GPU or region, or try again later.",
            provider=_NAME, status=400, request_id=rid,
        )  # fmt: skip
    wait = _messages.retry_after_s(err.response.headers, now=now) if status in (429, 503) else None
    return _messages.error_for_status(
        _INFO, status, detail=detail or None, request_id=rid, retry_after=wait,
        what=f"the endpoint {what}" if not what.startswith("the ") else what,
    )  # fmt: skip


def transport_error(err: httpx2.TransportError, base_url: str, timeout_s: float) -> ProviderError:
    host = httpx2.URL(base_url).host
    if isinstance(err, httpx2.TimeoutException):
        sent = not isinstance(err, httpx2.ConnectTimeout | httpx2.PoolTimeout)
        return _messages.timed_out(_INFO, timeout_s, request_sent=sent)
    return _messages.unreachable(_INFO, host, request_sent=not isinstance(err, httpx2.ConnectError))
