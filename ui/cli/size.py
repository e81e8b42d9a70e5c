"""`kriptik size`: peak VRAM of a model, the RunPod GPU that holds it, and its price.

kriptik size REPO_ID [--revision R] [--context N] [--batch N] [--dtype bf16] [--json]
kriptik size --config config.json [--params N] [...]     (offline, no Hub access)
kriptik size DIFFUSERS_REPO [--height H] [--width W] [--frames N] [--offload auto|none|model]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ui.cli.console import say, warn

if TYPE_CHECKING:
    from pydantic import SecretStr

    from tools.sizing import (
        DiffusionSizing,
        GpuChoice,
        ModelRequirements,
        PriceQuote,
        VramEstimate,
    )
    from ui.cli import Subparsers

_GIB = 1 << 30


def register(subparsers: Subparsers) -> None:
    size = subparsers.add_parser(
        "size",
        help="estimate peak VRAM, choose a RunPod GPU and price it",
        description="Estimate a model's peak GPU memory for batch generation, choose the "
        "cheapest RunPod serverless pool that holds it, and price it.",
    )
    size.add_argument(
        "repo_id", nargs="?", metavar="REPO_ID", help="Hugging Face repo (owner/name)"
    )
    size.add_argument("--config", type=Path, help="size offline from this config.json instead")
    size.add_argument("--params", type=int, help="parameter count (with --config)")
    size.add_argument("--revision", help="branch, tag or commit (default: main)")
    size.add_argument("--context", type=int, default=4096, help="tokens per sequence (4096)")
    size.add_argument("--batch", type=int, default=1, help="sequences generated together (1)")
    size.add_argument("--dtype", default="bf16", help="bf16, fp16, fp32, fp8, int8, int4, auto")
    size.add_argument("--kv-dtype", help="KV-cache dtype (default: the compute dtype)")
    size.add_argument("--attention", choices=("sdpa", "eager", "flash"), default="sdpa")
    size.add_argument("--height", type=int, help="diffusers: output height in pixels (1024)")
    size.add_argument("--width", type=int, help="diffusers: output width in pixels (1024)")
    size.add_argument("--frames", type=int, help="diffusers video: frames (81)")
    size.add_argument(
        "--offload", choices=("auto", "none", "model", "sequential"), default="auto",
        help="diffusers: CPU offload to size for; auto keeps every component on the GPU "
        "unless no GPU holds them, then offloads whole components (model)",
    )  # fmt: skip
    size.add_argument("--gpu-util", type=float, default=0.9, help="vLLM gpu_memory_utilization")
    size.add_argument("--max-gpus", type=int, default=8, help="largest GPU count per worker")
    size.add_argument("--execution-seconds", type=float, default=2.0, help="GPU time per request")
    size.add_argument("--idle-timeout", type=int, default=5, help="endpoint idleTimeout (s)")
    size.add_argument("--workers-min", type=int, default=0, help="always-on workers")
    size.add_argument("--user", help="read gated/private repos with this user's stored HF key")
    size.add_argument("--json", action="store_true", help="machine-readable output")
    size.set_defaults(handler=_size)


@dataclass(frozen=True)
class SizeOutcome:
    """What `kriptik size` prints and returns: lines for stdout and stderr, the exit code."""

    code: int
    out: list[str] = field(default_factory=list[str])
    err: list[str] = field(default_factory=list[str])


class _BadFile(Exception):
    """The --config file cannot be read as a JSON object."""


def _size(args: argparse.Namespace) -> int:
    outcome = run_size(args)
    for line in outcome.out:
        say(line)
    for line in outcome.err:
        warn(line)
    return outcome.code


def run_size(args: argparse.Namespace) -> SizeOutcome:
    """Everything `kriptik size` does except printing: 0 fits, 1 nothing fits, 2 bad input."""
    from tools.sizing import SizingError
    from vault import VaultError

    if (args.repo_id is None) == (args.config is None):
        return SizeOutcome(2, err=["error: give either REPO_ID or --config config.json (not both)"])
    if args.params is not None and args.config is None:
        return SizeOutcome(2, err=["error: --params only applies with --config"])
    try:
        if args.config is not None:
            requirements = _offline(args.config, args.params)
        else:
            requirements = asyncio.run(_online(args))
        return _report(args, requirements)
    except (SizingError, VaultError, _BadFile) as error:
        return SizeOutcome(2, err=[f"error: {error}"])


def _offline(path: Path, params: int | None) -> ModelRequirements:
    from tools.sizing import requirements_from_config

    try:
        data: object = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise _BadFile(f"cannot read {path}: {error.strerror or error}") from error
    except ValueError as error:
        raise _BadFile(f"{path} is not valid JSON") from error
    if not isinstance(data, dict):
        raise _BadFile(f"{path} must hold a JSON object (a model's config.json)")
    return requirements_from_config(cast("dict[str, Any]", data), params=params)


async def _online(args: argparse.Namespace) -> ModelRequirements:
    import httpx

    from tools.clients.hub_reader import SizingHubReader
    from tools.clients.huggingface import HuggingFaceClient
    from tools.sizing import inspect_model
    from vault import get_settings

    settings = get_settings()
    token = await hf_token(args.user) if args.user else None
    async with httpx.AsyncClient(timeout=settings.http_timeout_s) as http:
        hub = HuggingFaceClient(
            http=http, base_url=settings.huggingface_base_url, token=token,
            timeout_s=settings.http_timeout_s,
        )  # fmt: skip
        return await inspect_model(SizingHubReader(hub), args.repo_id, revision=args.revision)


async def hf_token(user_name: str) -> SecretStr:
    """The named user's stored Hugging Face token (also `kriptik comfy inspect --user`)."""
    from ui.root import opened_vault, resolve_user

    async with opened_vault() as vault:
        user = await resolve_user(vault, user_name)
        return await vault.credentials.get(user.id, "huggingface")


def _report(args: argparse.Namespace, requirements: ModelRequirements) -> SizeOutcome:
    from tools.sizing import choose_gpu, estimate_vram, price_quote

    estimate = estimate_vram(
        requirements, args.dtype, args.context, args.batch, kv_dtype=args.kv_dtype,
        attention=args.attention, height=args.height, width=args.width, frames=args.frames,
        offload="none" if args.offload == "auto" else args.offload,
    )  # fmt: skip
    # An offload the user named is kept: choose_gpu re-estimates (to offload) only with the
    # model's requirements.
    forced = estimate.diffusion is not None and args.offload != "auto"
    choice = choose_gpu(
        estimate, requirements=None if forced else requirements,
        gpu_memory_utilization=args.gpu_util, max_gpus=args.max_gpus,
    )  # fmt: skip
    estimate = choice.estimate or estimate  # with model CPU offload, when only that fits
    quote = None
    if choice.best is not None:
        quote = price_quote(
            choice.best, execution_seconds=args.execution_seconds,
            idle_timeout_s=args.idle_timeout, workers_min=args.workers_min,
        )  # fmt: skip
    if args.json:
        lines = [json.dumps(_as_json(requirements, estimate, choice, quote), indent=2)]
    else:
        lines = _table(requirements, estimate, choice, quote)
    return SizeOutcome(0 if choice.fits else 1, out=lines)


def _as_json(
    requirements: ModelRequirements, estimate: VramEstimate, choice: GpuChoice,
    quote: PriceQuote | None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "weights_bytes": estimate.weights_bytes,
        "kv_cache_bytes": estimate.kv_cache_bytes,
        "activation_bytes": estimate.activation_bytes,
        "overhead_bytes": estimate.overhead_bytes,
        "total_bytes": estimate.total_bytes,
        "gpu": choice.model_dump(mode="json"),
        "assumptions": estimate.assumptions,
        "estimate": estimate.model_dump(mode="json", exclude={"assumptions"}),
        "price": quote.model_dump(mode="json") if quote else None,
        "model": requirements.model_dump(mode="json"),
    }


def _gib(value: int) -> str:
    return f"{value / _GIB:7.2f} GiB"


def _count(value: int | None) -> str:
    if value is None:
        return "unknown"
    return f"{value / 1e9:.2f} B" if value >= 1e8 else f"{value / 1e6:.1f} M"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _model_lines(requirements: ModelRequirements, estimate: VramEstimate) -> list[str]:
    arch = requirements.architecture
    kind = ", ".join(
        x for x in (requirements.library, requirements.pipeline_tag, arch and arch.model_type) if x
    )
    dtypes = ", ".join(
        f"{tag} {_count(n)}" for tag, n in sorted(requirements.parameters_by_dtype.items())
    )
    sources = requirements.sources
    source = sources.get("parameter_count", sources.get("parameters", ""))
    quant = requirements.quantization.method
    return [
        f"Model        {requirements.repo_id or 'config.json'}  ({kind})",
        f"Parameters   {_count(requirements.parameter_count)}  [{dtypes}]  ({source})",
        f"Quantization {quant}    gated: {_yes(requirements.gated)}    "
        f"trust_remote_code: {_yes(requirements.trust_remote_code)}",
        _workload(estimate),
    ]


def _workload(estimate: VramEstimate) -> str:
    sizing = estimate.diffusion
    if sizing is None:
        return (
            f"Workload     {estimate.context_tokens:,} tokens x batch {estimate.batch}, "
            f"{estimate.dtype}, KV {estimate.kv_dtype}, {estimate.attention}"
        )
    frames = f" x {sizing.frames} frames" if sizing.frames > 1 else ""
    return (
        f"Workload     {sizing.width} x {sizing.height}{frames}, batch {estimate.batch}, "
        f"{estimate.dtype}; the denoiser runs {sizing.denoiser_batch} latent(s) a step"
    )


def _diffusion_lines(requirements: ModelRequirements, sizing: DiffusionSizing) -> list[str]:
    """Each component's weights and phase peak, each offload option's total, and the one
    the estimate below assumes."""
    from tools.sizing import OFFLOAD_WORDS

    classes = {c.name: c.class_name or "" for c in requirements.components}
    lines = [
        f"Components at {sizing.width} x {sizing.height}: weights, and the activation peak "
        "of each one's phase",
        f"  {'COMPONENT':<18}{'CLASS':<30}{'WEIGHTS':>12}{'ACTIVATIONS':>14}",
    ]
    for name, weights in sizing.component_weights.items():
        lines.append(
            f"  {name:<18}{classes.get(name, '')[:29]:<30}{_gib(weights):>12}"
            f"{_gib(sizing.component_activations[name]):>14}"
        )
    totals = sizing.offload_totals
    return [
        *lines,
        f"Offload      none {_gib(totals['none']).strip()}; model CPU offload "
        f"{_gib(totals['model']).strip()}; sequential {_gib(totals['sequential']).strip()}",
        "             (sequential is slow: every step moves all the weights over PCIe)",
        f"Assumed      {OFFLOAD_WORDS[sizing.offload]}",
        "",
        f"Peak VRAM of one pipeline call (as nvidia-smi shows it), at the {sizing.peak_component}"
        "'s phase",
    ]


def _price_lines(quote: PriceQuote) -> list[str]:
    return [
        f"Price on {quote.gpu_count} x {quote.pool_id}: "
        f"${quote.usd_per_hour_running:.2f}/h while running; "
        f"${quote.cost_per_request_usd:.5f} per {quote.execution_seconds:g} s request; "
        f"+${quote.idle_cost_per_request_usd:.5f} idle tail "
        f"({quote.idle_timeout_s} s idleTimeout)",
        f"  always-on: ${quote.always_on_usd_per_hour:.2f}/h (workersMin {quote.workers_min}); "
        f"{quote.requests:,} requests: ${quote.sparse_requests_usd:.2f} if sparse, "
        f"${quote.busy_requests_usd:.2f} back to back",
    ]


def _band_lines(estimate: VramEstimate) -> list[str]:
    """Where the real peak is expected, and that the GPU is chosen on the upper end."""
    band = estimate.band
    low, high = band.low_bytes / _GIB, band.high_bytes / _GIB
    return [
        f"  expected peak     {low:7.2f} to {high:.2f} GiB; GPU chosen for {high:.2f} GiB",
        f"                    ({band.reason})",
    ]


def _table(
    requirements: ModelRequirements, estimate: VramEstimate, choice: GpuChoice,
    quote: PriceQuote | None,
) -> list[str]:  # fmt: skip
    lines = [
        *_model_lines(requirements, estimate),
        "",
        *(
            _diffusion_lines(requirements, estimate.diffusion)
            if estimate.diffusion
            else ["Peak VRAM (HF transformers generate, as nvidia-smi shows it)"]
        ),
        f"  weights           {_gib(estimate.weights_bytes)}",
        *([] if estimate.diffusion else [f"  KV cache          {_gib(estimate.kv_cache_bytes)}"]),
        f"  activations       {_gib(estimate.activation_bytes)}",
        f"  CUDA context      {_gib(estimate.cuda_context_bytes)}",
        f"  allocator         {_gib(estimate.allocator_overhead_bytes)}",
        f"  total             {_gib(estimate.total_bytes)}  ({estimate.total_bytes / 1e9:.2f} GB)",
        *_band_lines(estimate),
    ]
    if requirements.card_vram_bytes:
        lines.append(f"  model card states {_gib(requirements.card_vram_bytes)}")
    lines += ["", f"RunPod serverless (catalog {choice.catalog_as_of}): {choice.message}"]
    if choice.options:
        from tools.sizing import pool_label  # the one display name of a pool

        lines.append(
            f"  {'POOL':<26}{'GPUS':>5}{'USABLE/GPU':>14}{'NEED/GPU':>14}{'$/S':>10}{'$/H':>8}"
        )
        for o in choice.options:
            lines.append(
                f"  {pool_label(o.pool_id):<26}{o.gpu_count:>5}{_gib(o.usable_bytes):>14}"
                f"{_gib(o.required_bytes):>14}{o.usd_per_second:>10.5f}{o.usd_per_hour:>8.2f}"
            )
    if quote is not None:
        lines += ["", *_price_lines(quote)]
    lines += [f"Note: {note}" for note in requirements.notes]
    return lines
