"""VRAM requirements stated in a model card (README.md).

The card is untrusted text written by anyone. We only pull numbers out of it: a figure in
GB that sits on a line (or in a table whose header) speaks of GPU memory. The text itself
is never returned, stored or shown, so nothing in it can act as an instruction.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from tools.sizing.requirements import CardVramFigure

__all__ = ["parse_card_vram"]

_GIB: Final = 1 << 30
_MAX_LINES: Final = 3000
_MAX_LINE_CHARS: Final = 2000
_FIGURE: Final = re.compile(r"(?<![\w.])(\d{1,4}(?:\.\d{1,2})?)\s*(?:GB|GiB|G)(?![a-zA-Z])")
_GPU_MEMORY: Final = re.compile(
    r"vram|gpu\b.*\b(?:memory|mem|ram)\b|\bmemory\b.*\bgpu|video\s*memory|graphics\s*memory|"
    r"peak\s*memory|显存|cuda\s*memory",
    re.IGNORECASE,
)
_NOT_GPU: Final = re.compile(r"disk|storage|download|file\s*size|checkpoint\s*size", re.I)
_MINIMUM: Final = re.compile(r"minimum|at\s+least|min\.|requires?|required|最低|至少", re.I)
_RECOMMENDED: Final = re.compile(r"recommend|suggest|推荐|建议", re.I)
_MIN_GB: Final = 0.5
_MAX_GB: Final = 2048.0


def _kind(line: str) -> Literal["minimum", "recommended", "stated"]:
    if _RECOMMENDED.search(line):
        return "recommended"
    if _MINIMUM.search(line):
        return "minimum"
    return "stated"


def parse_card_vram(text: str) -> tuple[CardVramFigure, ...]:
    """Every GPU-memory figure the card states, in order of appearance.

    Args:
        text: README.md content (untrusted; only numbers are extracted).
    """
    figures: list[CardVramFigure] = []
    in_memory_table = False
    for number, raw in enumerate(text.splitlines()[:_MAX_LINES], start=1):
        line = raw[:_MAX_LINE_CHARS]
        is_table_row = line.lstrip().startswith("|")
        if not is_table_row:
            in_memory_table = False
        mentions_memory = bool(_GPU_MEMORY.search(line))
        if is_table_row and mentions_memory and not _FIGURE.search(line):
            in_memory_table = True  # a header naming GPU memory: its rows carry the figures
            continue
        if not (mentions_memory or in_memory_table) or _NOT_GPU.search(line):
            continue
        for match in _FIGURE.finditer(line):
            gb = float(match.group(1))
            if _MIN_GB <= gb <= _MAX_GB:
                figures.append(CardVramFigure(bytes=int(gb * _GIB), kind=_kind(line), line=number))
    return tuple(figures)
