"""Quantization: detect it from config.json / file names, and estimate the storage of a
quantized checkpoint when only its config is known."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from tools.sizing.config import text_config
from tools.sizing.params import ParamBreakdown
from tools.sizing.requirements import Quantization, QuantMethod, WeightFormat

__all__ = ["detect_quantization", "float_tag_for", "quantized_counts"]

_METHODS: Final[dict[str, QuantMethod]] = {
    "awq": "awq",
    "gptq": "gptq",
    "fp8": "fp8",
    "fbgemm_fp8": "fp8",
    "mxfp4": "mxfp4",
    "compressed-tensors": "compressed-tensors",
    "compressed_tensors": "compressed-tensors",
    "gguf": "gguf",
}
_NAME_HINTS: Final[tuple[tuple[str, QuantMethod], ...]] = (
    ("-awq", "awq"),
    ("-gptq", "gptq"),
    ("-fp8", "fp8"),
    ("-bnb-4bit", "bnb-4bit"),
    ("-4bit", "bnb-4bit"),
)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def detect_quantization(
    config: Mapping[str, Any] | None,
    *,
    weight_format: WeightFormat = "none",
    repo_id: str | None = None,
) -> Quantization:
    """How the checkpoint is quantized: config's `quantization_config` first, then GGUF
    files, then (weakly) a repo-name suffix such as `-AWQ`."""
    raw = text_config(config).get("quantization_config") if config else None
    if isinstance(raw, Mapping):
        qc = cast("Mapping[str, Any]", raw)
        method_name = str(qc.get("quant_method", "")).lower()
        bits = _int_or_none(qc.get("bits")) or _int_or_none(qc.get("w_bit"))
        group = _int_or_none(qc.get("group_size")) or _int_or_none(qc.get("q_group_size"))
        if method_name == "bitsandbytes" or qc.get("load_in_4bit") or qc.get("load_in_8bit"):
            four = bool(qc.get("load_in_4bit")) or qc.get("bnb_4bit_quant_type") is not None
            return Quantization(
                method="bnb-4bit" if four else "bnb-8bit",
                bits=4 if four else 8,
                source="config.json quantization_config",
            )
        method = _METHODS.get(method_name, "other")
        if method == "fp8":
            bits = 8
        return Quantization(
            method=method, bits=bits, group_size=group, source="config.json quantization_config"
        )
    if weight_format == "gguf":
        return Quantization(method="gguf", source="GGUF weight files")
    name = (repo_id or "").lower()
    for suffix, method in _NAME_HINTS:
        if name.endswith(suffix):
            bits = 8 if method == "fp8" else 4
            return Quantization(method=method, bits=bits, source=f"repo name ends with {suffix}")
    return Quantization()


def quantized_counts(
    breakdown: ParamBreakdown, quant: Quantization, float_tag: str
) -> dict[str, int]:
    """Storage-equivalent element counts per dtype for a quantized checkpoint.

    Linear layers are packed at `bits` per weight with a 16-bit scale (and a packed zero
    point) per group; embeddings, norms and the vision tower stay in `float_tag`.
    """
    if quant.method in {"none", "gguf"}:
        return {float_tag: breakdown.total}
    bits = quant.bits or 4
    group = quant.group_size if quant.group_size and quant.group_size > 0 else 128
    linear = breakdown.linear
    packed_bytes = linear * bits // 8
    scales = linear // group
    tag = "F8_E4M3" if quant.method == "fp8" else "U8"
    counts: dict[str, int] = {tag: packed_bytes, "F16": scales}
    counts[float_tag] = counts.get(float_tag, 0) + breakdown.total - linear
    return counts


def float_tag_for(config: Mapping[str, Any] | None) -> str:
    """Safetensors tag of the checkpoint's float dtype (config `torch_dtype`, else BF16)."""
    cfg = text_config(config) if config else {}
    value = cfg.get("torch_dtype", cfg.get("dtype"))
    mapping = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}
    return mapping.get(str(value).lower().replace("torch.", ""), "BF16")
