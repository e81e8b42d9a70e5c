"""Dtype names and sizes."""

from __future__ import annotations

import pytest

from tools.sizing import SERVE_DTYPES, UnknownDtypeError, parse_dtype
from tools.sizing.dtypes import compute_bytes, config_dtype_bytes, tensor_dtype_bytes


@pytest.mark.parametrize(
    ("name", "expected"),
    [("bf16", "bf16"), ("BFloat16", "bf16"), ("torch.float16", "fp16"), ("half", "fp16"),
     ("float32", "fp32"), ("FP8", "fp8"), ("4bit", "int4"), (" int8 ", "int8"), ("auto", "auto")],
)  # fmt: skip
def test_aliases(name: str, expected: str) -> None:
    assert parse_dtype(name) == expected


def test_unknown_dtype_lists_the_choices() -> None:
    with pytest.raises(UnknownDtypeError) as raised:
        parse_dtype("bf17")
    assert "'bf17'" in str(raised.value)
    assert all(choice in str(raised.value) for choice in SERVE_DTYPES)


def test_sizes() -> None:
    assert tensor_dtype_bytes("bf16") == 2 and tensor_dtype_bytes("I32") == 4
    assert tensor_dtype_bytes("F8_E4M3") == 1 and tensor_dtype_bytes("Q4") is None
    assert config_dtype_bytes("float32") == 4 and config_dtype_bytes(None) is None
    assert compute_bytes("int4") == 2 and compute_bytes("fp32") == 4
    assert compute_bytes("auto", checkpoint_bytes=4) == 4
