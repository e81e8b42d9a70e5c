"""`requirements_from_config`: size a model from its config.json alone, with no Hub access."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.sizing.config import parse_architecture
from tools.sizing.dtypes import tensor_dtype_bytes
from tools.sizing.errors import InvalidOptionError, MalformedConfigError
from tools.sizing.params import count_parameters
from tools.sizing.quant import detect_quantization, float_tag_for, quantized_counts
from tools.sizing.requirements import Architecture, ModelRequirements

__all__ = ["requirements_from_config", "storage_bytes"]


def storage_bytes(counts: Mapping[str, int]) -> int:
    """Checkpoint bytes of element counts per safetensors dtype tag."""
    return sum(count * (tensor_dtype_bytes(tag) or 1) for tag, count in counts.items())


def _architecture_or_none(config: Mapping[str, Any], params: int | None) -> Architecture | None:
    """The architecture; None for a config we cannot read when `params` sizes it anyway."""
    try:
        return parse_architecture(config)
    except MalformedConfigError:
        if params is None:
            raise
        return None


def requirements_from_config(
    config: Mapping[str, Any],
    *,
    params: int | None = None,
    repo_id: str | None = None,
) -> ModelRequirements:
    """Requirements from config.json, optionally with a known parameter count.

    Args:
        config: Parsed config.json.
        params: Total parameters, when known (overrides the count computed from the config,
            and lets a config we cannot parse be sized by its weights alone).
        repo_id: Shown in results; also a weak hint for quantization (`-AWQ`, `-GPTQ`).

    Raises:
        MalformedConfigError: The config cannot be read and no `params` was given.
        InvalidOptionError: `params` is not positive.
    """
    if params is not None and params <= 0:
        raise InvalidOptionError(f"the parameter count must be positive (got {params})")
    architecture = _architecture_or_none(config, params)
    quant = detect_quantization(config, repo_id=repo_id)
    tag = float_tag_for(config)
    notes: list[str] = []
    sources = {"quantization": quant.source}
    if architecture is not None:
        breakdown = count_parameters(config)
        counts = quantized_counts(breakdown, quant, tag)
        if params is not None and params != breakdown.total:
            scale = params / breakdown.total
            counts = {t: round(c * scale) for t, c in counts.items()}
        sources["architecture"] = "config.json"
        sources["parameters"] = "--params" if params else "computed from config.json"
        if not breakdown.exact and params is None:
            notes.append(
                f"model_type {architecture.model_type!r} is counted with the generic decoder "
                "formula; pass --params for an exact count"
            )
        count = params or breakdown.total
    else:
        counts = {tag: params or 0}
        count = params
        sources["parameters"] = "--params"
        notes.append("config.json is not a transformer config: sizing from weights alone")
    sources["weights_bytes"] = f"parameters x {tag} element size (no checkpoint metadata)"
    return ModelRequirements(
        repo_id=repo_id,
        library="transformers" if architecture is not None else None,
        architecture=architecture,
        parameters_by_dtype=counts,
        parameter_count=count,
        weights_bytes=storage_bytes(counts),
        weight_format="none",
        quantization=quant,
        sources=sources,
        notes=tuple(notes),
    )
