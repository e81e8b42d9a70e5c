"""Data types: the serving dtypes a user may ask for, and the byte sizes of checkpoint dtypes."""

from __future__ import annotations

from typing import Final, Literal, get_args

from tools.sizing.errors import UnknownDtypeError

__all__ = [
    "FLOAT_TENSOR_DTYPES",
    "SERVE_DTYPES",
    "ServeDtype",
    "compute_bytes",
    "config_dtype_bytes",
    "parse_dtype",
    "tensor_dtype_bytes",
    "weight_bytes_per_param",
]

#: `auto` keeps the checkpoint's own storage (and computes in its float dtype).
ServeDtype = Literal["auto", "fp32", "bf16", "fp16", "fp8", "int8", "int4"]
SERVE_DTYPES: Final[tuple[ServeDtype, ...]] = get_args(ServeDtype)

_ALIASES: Final[dict[str, ServeDtype]] = {
    "auto": "auto",
    "fp32": "fp32",
    "float32": "fp32",
    "f32": "fp32",
    "float": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "f16": "fp16",
    "half": "fp16",
    "fp8": "fp8",
    "float8": "fp8",
    "f8": "fp8",
    "fp8_e4m3": "fp8",
    "int8": "int8",
    "i8": "int8",
    "8bit": "int8",
    "int4": "int4",
    "i4": "int4",
    "4bit": "int4",
}

_WEIGHT_BYTES: Final[dict[ServeDtype, float]] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    # 4-bit weights plus a 16-bit scale per group of 128 (GPTQ/AWQ/bnb-nf4 style).
    "int4": 0.5 + 2.0 / 128,
}

#: Safetensors dtype tags and their element sizes (element count x size = storage size,
#: which stays right for packed quantized tensors stored as I32/U8).
_TENSOR_BYTES: Final[dict[str, int]] = {
    "F64": 8,
    "I64": 8,
    "U64": 8,
    "F32": 4,
    "I32": 4,
    "U32": 4,
    "F16": 2,
    "BF16": 2,
    "I16": 2,
    "U16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}

#: Checkpoint tensors that a serving dtype re-casts (integer and fp8 tensors keep storage).
FLOAT_TENSOR_DTYPES: Final[frozenset[str]] = frozenset({"F64", "F32", "F16", "BF16"})

_CONFIG_BYTES: Final[dict[str, int]] = {
    "float32": 4,
    "float": 4,
    "float64": 8,
    "bfloat16": 2,
    "float16": 2,
    "half": 2,
}


def parse_dtype(name: str) -> ServeDtype:
    """Return the canonical serving dtype for `name` (case-insensitive, common aliases).

    Raises:
        UnknownDtypeError: `name` is not a dtype we can size.
    """
    found = _ALIASES.get(name.strip().lower().replace("torch.", ""))
    if found is None:
        raise UnknownDtypeError(name, SERVE_DTYPES)
    return found


def weight_bytes_per_param(dtype: ServeDtype) -> float:
    """Bytes one weight takes when a float checkpoint is served in `dtype` (not `auto`)."""
    if dtype == "auto":
        raise ValueError("resolve 'auto' against the checkpoint before asking its size")
    return _WEIGHT_BYTES[dtype]


def compute_bytes(dtype: ServeDtype, *, checkpoint_bytes: int = 2) -> int:
    """Bytes per activation element: fp32 computes in fp32, quantized weights in bf16.

    Args:
        dtype: The serving dtype.
        checkpoint_bytes: The checkpoint's float size, used when `dtype` is `auto`.
    """
    if dtype == "fp32":
        return 4
    if dtype == "auto":
        return 4 if checkpoint_bytes >= 4 else 2
    return 2


def tensor_dtype_bytes(tag: str) -> int | None:
    """Element size of a safetensors dtype tag, or None when the tag is unknown."""
    return _TENSOR_BYTES.get(tag.upper())


def config_dtype_bytes(name: object) -> int | None:
    """Element size of a config.json `torch_dtype`/`dtype` value, or None when unknown."""
    if not isinstance(name, str):
        return None
    return _CONFIG_BYTES.get(name.strip().lower().replace("torch.", ""))
