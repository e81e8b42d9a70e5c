"""Agent tools for sizing: inspect a model, estimate its VRAM, choose and price a GPU.

Thin wrappers over `tools.sizing`. Each returns a compact summary (the model does not
need every field of `ModelRequirements`; the summaries are plain data in
`tools.model_results`, so the UI's events can carry them), and maps `SizingError` to what
the model can do about it: `ModelRetry` when different arguments would work, `ToolFailed` when not.
"""

from __future__ import annotations

from pydantic_ai import ModelRetry, RunContext, ToolFailed

from tools import sizing
from tools.deps import Deps
from tools.model_results import GpuPlan, ModelSummary, VramSummary
from tools.sizing import (
    ContextTooLongError,
    InvalidBatchError,
    InvalidContextError,
    InvalidOptionError,
    ModelRequirements,
    ServeDtype,
    SizingError,
    UnknownDtypeError,
    UnknownRepoError,
    VramEstimate,
    pick_gpu,
    price_quote,
)

__all__ = ["GpuPlan", "ModelSummary", "VramSummary", "choose_gpu", "estimate_vram", "inspect_model"]

_GB = 1e9
# Errors the model fixes by calling again with other arguments.
_FIXABLE = (
    UnknownRepoError, ContextTooLongError, InvalidBatchError, InvalidContextError,
    InvalidOptionError, UnknownDtypeError,
)  # fmt: skip


def _gb(value: int | None) -> float | None:
    return None if value is None else round(value / _GB, 2)


def _sizing_failure(error: SizingError) -> Exception:
    return ModelRetry(str(error)) if isinstance(error, _FIXABLE) else ToolFailed(str(error))


async def _requirements(ctx: RunContext[Deps], repo_id: str) -> ModelRequirements:
    cached = ctx.deps.inspected.get(repo_id.strip())
    if cached is not None:
        return cached
    await ctx.deps.progress(
        f"Reading {repo_id} on Hugging Face (metadata only)", tool_call_id=ctx.tool_call_id
    )
    try:
        found = await sizing.inspect_model(await ctx.deps.providers.hub(ctx.deps.user_id), repo_id)
    except SizingError as error:
        raise _sizing_failure(error) from None
    ctx.deps.inspected[found.repo_id or repo_id] = found
    return found


async def inspect_model(ctx: RunContext[Deps], repo_id: str) -> ModelSummary:
    """A Hugging Face model's metadata: size, format, licence, gating.

    Args:
        repo_id: Hugging Face repo, owner/name.

    Reads metadata only, never the weights.
    """
    found = await _requirements(ctx, repo_id)
    arch = found.architecture
    quant = found.quantization
    return ModelSummary(
        repo_id=found.repo_id or repo_id, sha=found.sha, library=found.library,
        task=found.pipeline_tag, model_type=arch.model_type if arch else None,
        parameters_billion=round(found.parameter_count / 1e9, 3) if found.parameter_count else None,
        weights_gb=round(found.weights_bytes / _GB, 2), weight_format=found.weight_format,
        quantization=quant.method + (f" {quant.bits}-bit" if quant.bits else ""),
        gated=found.gated, license=found.license, trust_remote_code=found.trust_remote_code,
        max_context=arch.max_context if arch else None,
        card_states_vram_gb=_gb(found.card_vram_bytes), notes=list(found.notes),
    )  # fmt: skip


async def _estimate_for(
    ctx: RunContext[Deps], repo_id: str, dtype: ServeDtype, context_tokens: int, batch: int
) -> tuple[ModelRequirements, VramEstimate]:
    found = await _requirements(ctx, repo_id)
    try:
        return found, sizing.estimate_vram(found, dtype, context_tokens, batch)
    except SizingError as error:
        raise _sizing_failure(error) from None


async def estimate_vram(
    ctx: RunContext[Deps],
    repo_id: str,
    dtype: ServeDtype = "bf16",
    context_tokens: int = 4096,
    batch: int = 1,
) -> VramSummary:
    """A model's peak GPU memory when serving it.

    Args:
        repo_id: Hugging Face repo, owner/name.
        dtype: Serving precision; auto: the checkpoint's.
        context_tokens: Prompt + output tokens per sequence.
        batch: Sequences at once.
    """
    _, est = await _estimate_for(ctx, repo_id, dtype, context_tokens, batch)
    overhead = est.cuda_context_bytes + est.allocator_overhead_bytes
    return VramSummary(
        dtype=est.dtype, context_tokens=est.context_tokens, batch=est.batch,
        total_gb=round(est.total_bytes / _GB, 2),
        band_low_gb=round(est.band.low_bytes / _GB, 2),
        band_high_gb=round(est.gpu_fit_bytes / _GB, 2),
        weights_gb=round(est.weights_bytes / _GB, 2),
        kv_cache_gb=round(est.kv_cache_bytes / _GB, 2),
        activations_gb=round(est.activation_bytes / _GB, 2),
        overhead_gb=round(overhead / _GB, 2), basis=est.basis,
    )  # fmt: skip


async def choose_gpu(
    ctx: RunContext[Deps],
    repo_id: str,
    dtype: ServeDtype = "bf16",
    context_tokens: int = 4096,
    batch: int = 1,
    workers_min: int = 0,
) -> GpuPlan:
    """The cheapest RunPod serverless GPU that holds the model, and its price.

    Args:
        repo_id: Hugging Face repo, owner/name.
        dtype: Serving precision; auto: the checkpoint's.
        context_tokens: Prompt + output tokens per sequence.
        batch: Sequences at once.
        workers_min: Always-on workers, billed 24/7; 0 scales to zero.
    """
    found, est = await _estimate_for(ctx, repo_id, dtype, context_tokens, batch)
    catalog = await ctx.deps.providers.gpu_catalog(ctx.deps.user_id)
    try:
        choice = sizing.choose_gpu(est, requirements=found, catalog=catalog)
        best = choice.best
        quote = price_quote(best, execution_seconds=2.0, workers_min=workers_min) if best else None
    except SizingError as error:
        raise _sizing_failure(error) from None
    return GpuPlan(
        fits=choice.fits, message=choice.message,
        estimate_gb=round((choice.estimate or est).total_bytes / _GB, 2),  # offloaded if so
        required_gb=round(choice.required_bytes / _GB, 2),
        pool=best.pool_id if best else None, gpu_count=best.gpu_count if best else None,
        usd_per_hour_running=round(quote.usd_per_hour_running, 4) if quote else None,
        usd_per_request=round(quote.cost_per_request_usd, 6) if quote else None,
        usd_per_hour_always_on=round(quote.always_on_usd_per_hour, 4) if quote else None,
        alternatives=[f"{o.gpu_count}x {o.pool_id} ${o.usd_per_hour:.2f}/h"
                      + (" (no capacity now)" if o.has_capacity is False else "")
                      for o in choice.options if o != best][:3],
        max_context_that_fits=choice.max_context_that_fits,
        prices_as_of=choice.catalog_as_of.isoformat(),
        pick=pick_gpu(choice.estimate or est, choice, catalog=catalog),
    )  # fmt: skip
