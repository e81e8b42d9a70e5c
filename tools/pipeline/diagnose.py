"""Turn what RunPod shows (worker states, worker logs) into a stage and, when something is
wrong, a `Failure` that says what to do next.

Pure functions over plain data, so each failure mode users hit is tested on its own:
out of memory while loading, a gated model, an image that cannot be pulled, no capacity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from pydantic import BaseModel, ConfigDict

from tools.clients.runpod_models import Workers
from tools.pipeline.events import Failure, ReadinessStage

__all__ = ["PoolOption", "classify_workers", "diagnose_logs", "throttled_failure"]

_OOM: Final = re.compile(
    r"CUDA out of memory|OutOfMemoryError|torch\.cuda\.OutOfMemory|out of memory"
    r"|No available memory for the cache blocks|larger than the maximum number of tokens"
    r"|Insufficient memory|CUBLAS_STATUS_ALLOC_FAILED",
    re.IGNORECASE,
)
# vLLM: "...max seq len (32768) is larger than the maximum number of tokens that can be
# stored in KV cache (19456). Try increasing `gpu_memory_utilization` or decreasing..."
_KV_FIT: Final = re.compile(r"stored in KV cache \((\d+)\)")
_GATED: Final = re.compile(
    r"GatedRepoError|Cannot access gated repo|Access to model \S+ is restricted"
    r"|You must have access to it|401 Client Error.*huggingface",
    re.IGNORECASE,
)
_PULL_AUTH: Final = re.compile(
    r"pull access denied|unauthorized: authentication required|no basic auth credentials"
    r"|denied: requested access to the resource is denied|manifest unknown"
    r"|failed to pull image|error pulling image|ErrImagePull|ImagePullBackOff",
    re.IGNORECASE,
)


class PoolOption(BaseModel):
    """A GPU pool the model fits in, as sizing priced it."""

    model_config = ConfigDict(frozen=True)

    pool_id: str
    label: str
    memory_gb: int
    gpu_count: int = 1
    usd_per_second: float


def classify_workers(workers: Workers) -> ReadinessStage:
    """One stage for the endpoint, from its workers (the most advanced one wins)."""
    s = workers.summary
    if s.ready:
        return "ready"
    if s.unhealthy:
        return "unhealthy"
    placed = any(w.status == "INITIALIZING" and w.gpu_type_id for w in workers.workers)
    if placed:
        return "pulling"  # a machine is assigned: the image is pulled, the model loads
    if s.throttled and not s.initializing:
        return "throttled"
    return "initializing"


def _bigger(options: Sequence[PoolOption], current: str) -> list[PoolOption]:
    now = next((o for o in options if o.pool_id == current), None)
    floor = now.memory_gb * now.gpu_count if now else 0
    return sorted(
        (o for o in options if o.memory_gb * o.gpu_count > floor),
        key=lambda o: (o.usd_per_second, o.memory_gb),
    )


def diagnose_logs(
    lines: Sequence[str],
    *,
    repo_id: str,
    pool: str,
    options: Sequence[PoolOption],
    max_model_len: int | None,
    image: str | None,
) -> Failure | None:
    """The failure that worker logs show, or None when they show nothing we recognise."""
    text = "\n".join(lines)
    if _GATED.search(text):
        return Failure(
            reason="gated",
            message=f"{repo_id} is gated: the worker was refused its weights.",
            suggestions=(
                f"Open https://huggingface.co/{repo_id} while logged in and accept the licence.",
                "Make sure the Hugging Face token KripTik uses belongs to that account, "
                "then deploy again.",
            ),
        )
    if _PULL_AUTH.search(text):
        return Failure(
            reason="image_pull_auth",
            message=f"RunPod could not pull the image {image or ''}".rstrip() + ".",
            suggestions=(
                "Check that the image was pushed and that the registry credentials KripTik "
                "gave RunPod can read it (a GHCR token needs read:packages).",
                "Or make the image public in the registry, then deploy again.",
            ),
        )
    if _OOM.search(text):
        return _oom(pool, options, max_model_len, text)
    return None


def _oom(pool: str, options: Sequence[PoolOption], max_model_len: int | None, text: str) -> Failure:
    tips: list[str] = []
    bigger = _bigger(options, pool)
    if bigger:
        nxt = bigger[0]
        tips.append(
            f"Deploy on {nxt.pool_id} ({nxt.label}, {nxt.memory_gb} GB) at "
            f"${nxt.usd_per_second:.5f}/s per worker."
        )
    if max_model_len is not None or _KV_FIT.search(text):
        fits = _KV_FIT.search(text)
        if fits:
            shorter = max(256, int(fits.group(1)) // 1024 * 1024)
        else:
            shorter = max(256, (max_model_len or 4096) // 2)
        tips.append(f"Or keep {pool} and set MAX_MODEL_LEN to {shorter} tokens or fewer.")
    if not tips:
        tips.append("Try a quantized variant of the model (AWQ, GPTQ or FP8).")
    return Failure(
        reason="oom",
        message=f"The model ran out of GPU memory while loading on {pool}.",
        suggestions=tuple(tips),
    )


def throttled_failure(pool: str, options: Sequence[PoolOption], waited_s: float) -> Failure:
    """No machine of the pool came free in `waited_s` seconds."""
    others = [o for o in options if o.pool_id != pool]
    tips = [
        f"Deploy on {o.pool_id} ({o.label}, {o.memory_gb} GB, ${o.usd_per_second:.5f}/s)."
        for o in sorted(others, key=lambda o: o.usd_per_second)[:3]
    ]
    tips.append("Or try again later: capacity on RunPod changes by the minute.")
    return Failure(
        reason="throttled",
        message=(
            f"RunPod had no free {pool} GPU for {waited_s / 60:.0f} minute(s): the worker "
            "stayed throttled. Nothing was billed while it waited."
        ),
        suggestions=tuple(tips),
    )
