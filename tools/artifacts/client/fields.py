"""The job-input fields of a ComfyUI worker, as its generated web page and clients show them.

A field comes from one `tools.comfy.UserInput` of the workflow's analysis. Its name is
already an identifier-safe slug (`^[a-z][a-z0-9_]{0,39}$`), so it goes into generated code
and element ids as it is. Its label is free text from the user's workflow (a node's title),
so it is made one plain line here and escaped by each template for its language
(autoescape for HTML, JSON for JavaScript, `repr` for Python).

    fields = tuple(InputField.from_user_input(i) for i in analysis.inputs)
    example = field_defaults(fields)  # {"prompt": "...", "seed": 42, ...}: the defaults
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Annotated, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    JsonValue,
    model_validator,
)

from tools.comfy import InputKind, UserInput

__all__ = ["FIELD_NAME", "InputField", "clean_label", "field_defaults"]

#: A job-input field's name, as `tools.comfy.UserInput` spells it.
FIELD_NAME: Final = r"^[a-z][a-z0-9_]{0,39}$"
_LABEL_MAX = 80
# "seed", "noise_seed", "seed_2": inputs a "random" button fills (KSampler's and
# KSamplerAdvanced's names, and the suffix a second one gets).
_SEED = re.compile(r"(?:^|_)seed(?:_\d+)?$")
# Characters that change how surrounding text or code reads: controls (newlines included),
# format characters (bidi overrides, zero-width joiners), line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def clean_label(value: str) -> str:
    """`value` as one line of plain text: unsafe characters become spaces, runs of spaces
    one, and it is cut to 80 characters (a node title can be anything)."""
    text = unicodedata.normalize("NFC", value)
    text = "".join(" " if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)
    text = " ".join(text.split())
    return text[:_LABEL_MAX].rstrip()


def _one_line(value: str) -> str:
    if value != clean_label(value) or not value:
        raise ValueError(
            "a field label is one line of 1-80 plain characters (no control or "
            "formatting characters); build fields with InputField.from_user_input"
        )
    return value


class InputField(BaseModel):
    """One job-input field of a ComfyUI worker.

    Attributes:
        name: The job-input key (`prompt`, `seed`, `steps`, `image`, ...).
        label: What the page shows (one plain line).
        kind: text (a textarea), integer or number (a number input with its limits), or
            image (a file sent as a data URI; base64 and https URLs are accepted too).
        default: The workflow's own value (None: none that a caller could send, e.g. the
            file name of an image in ComfyUI's input folder).
        minimum: Lowest allowed value (integer and number only).
        maximum: Highest allowed value (integer and number only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=FIELD_NAME)
    label: Annotated[str, AfterValidator(_one_line)]
    kind: InputKind
    default: str | int | FiniteFloat | None = None
    minimum: FiniteFloat | None = None
    maximum: FiniteFloat | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        numeric = self.kind in ("integer", "number")
        if not numeric and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"{self.name}: only integer and number fields have limits")
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and low > high:
            raise ValueError(f"{self.name}: minimum {low:g} is above maximum {high:g}")
        coerced = _coerce(self.kind, self.default, low, high)
        if self.default is not None and type(coerced) is not type(self.default):
            raise ValueError(f"{self.name}: default {self.default!r} is not a valid {self.kind}")
        return self

    @property
    def is_seed(self) -> bool:
        """An integer seed: the page offers a "random" button for it."""
        return self.kind == "integer" and bool(_SEED.search(self.name))

    @classmethod
    def from_user_input(cls, user_input: UserInput) -> InputField:
        """The field for one exposed input; a default the caller could not send (an image
        file name, a value of the wrong type or out of range) is dropped."""
        low, high = user_input.minimum, user_input.maximum
        if user_input.kind not in ("integer", "number"):
            low = high = None
        default = _coerce(user_input.kind, user_input.default, low, high)
        label = clean_label(user_input.label) or user_input.name
        return cls(name=user_input.name, label=label, kind=user_input.kind, default=default,
                   minimum=low, maximum=high)  # fmt: skip


def _coerce(
    kind: InputKind, value: object, low: float | None, high: float | None
) -> str | int | float | None:
    """`value` as a valid value of `kind` within the limits, or None."""
    if kind == "image":
        return None  # A workflow's image is a file in ComfyUI's input folder, not an upload.
    if kind == "text":
        return value if isinstance(value, str) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if kind == "integer":
        if isinstance(value, float) and not value.is_integer():
            return None
        value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        return None
    return value


def field_defaults(fields: Iterable[InputField]) -> dict[str, JsonValue]:
    """A valid job input: every field's default (fields without one are left out)."""
    return {f.name: f.default for f in fields if f.default is not None}
