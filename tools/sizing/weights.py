"""Choose the weight files a loader would really use, so nothing is counted twice.

Repos often carry the same weights several times: `.bin` next to `.safetensors`, Mistral's
`consolidated.safetensors`, Meta's `original/*.pth`, ONNX exports, diffusers `fp16`
variants, a dozen GGUF quantizations. Per directory we pick ONE format (safetensors, then
PyTorch pickles, then GGUF, then ONNX, then TF/Flax) and ONE group of files within it
(the shards of one checkpoint, or the preferred single file).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from tools.sizing.requirements import ComponentWeights, WeightFormat

__all__ = [
    "RepoFile",
    "Selection",
    "is_skipped",
    "is_weight_file",
    "select_components",
    "select_weights",
    "total_bytes",
]

_SKIP_DIRS: Final = re.compile(
    r"(^|/)(original|onnx|openvino|coreml|tflite|tf|flax|runs|\.cache|logs|checkpoint-\d+)(/|$)",
    re.IGNORECASE,
)
_NOT_WEIGHTS: Final = re.compile(
    r"(^|/)(training_args\.bin|optimizer\.pt|scheduler\.pt|scaler\.pt|rng_state[^/]*\.pth)$"
)
_SHARD: Final = re.compile(r"-\d{5}-of-\d{5}")
_VARIANT: Final = re.compile(r"\.(fp16|bf16|fp32|ema|non_ema|non-ema)(?=[.-])", re.IGNORECASE)
_FORMATS: Final[tuple[tuple[WeightFormat, tuple[str, ...]], ...]] = (
    ("safetensors", (".safetensors",)),
    ("pytorch", (".bin", ".pt", ".pth", ".ckpt")),
    ("gguf", (".gguf",)),
    ("onnx", (".onnx", ".onnx_data", ".onnx.data")),
    ("other", (".h5", ".msgpack", ".pdparams", ".ot", ".npz")),
)
_GGUF_PREFERENCE: Final = ("q4_k_m", "q5_k_m", "q8_0", "q4_0", "f16", "bf16")
_VARIANT_TAG: Final = {"fp16": "F16", "bf16": "BF16", "fp32": "F32"}


@dataclass(frozen=True)
class RepoFile:
    """One file of a repo: its path and size in bytes (None when the Hub did not say)."""

    path: str
    size: int | None


@dataclass(frozen=True)
class Selection:
    """The chosen weight files of one directory and what we know of their storage dtype."""

    format: WeightFormat
    files: tuple[RepoFile, ...]
    dtype_tag: str | None
    note: str | None = None

    @property
    def bytes(self) -> int:
        return total_bytes(self.files)


def total_bytes(files: Iterable[RepoFile]) -> int:
    """Sum of the known sizes."""
    return sum(f.size or 0 for f in files)


def _format(path: str) -> WeightFormat | None:
    if _NOT_WEIGHTS.search(path):
        return None
    lowered = path.lower()
    for fmt, suffixes in _FORMATS:
        if lowered.endswith(suffixes):
            return fmt
    return None


def is_weight_file(path: str) -> bool:
    """Whether `path` holds weights (in any format we know)."""
    return _format(path) is not None


def is_skipped(path: str) -> bool:
    """Whether `path` sits in a folder loaders ignore (original/, onnx/, checkpoints...)."""
    return bool(_SKIP_DIRS.search(path))


def _variant(name: str) -> str | None:
    found = _VARIANT.search(name)
    return found.group(1).lower() if found else None


def _group_key(name: str) -> str:
    # Shards of one checkpoint share this key; distinct single files do not.
    return _SHARD.sub("", name.rsplit("/", 1)[-1])


def _pick_group(fmt: WeightFormat, files: Sequence[RepoFile]) -> tuple[list[RepoFile], str | None]:
    groups: dict[str, list[RepoFile]] = defaultdict(list)
    for f in files:
        groups[_group_key(f.path)].append(f)
    keys = sorted(groups)
    if fmt == "gguf":
        for wanted in _GGUF_PREFERENCE:
            for key in keys:
                if wanted in key.lower():
                    return groups[key], f"chose {key} among {len(keys)} GGUF files"
    if fmt == "onnx":
        data = [f for f in files if not f.path.lower().endswith(".onnx")]
        main = [f for f in files if f.path.lower().rsplit("/", 1)[-1] == "model.onnx"]
        if main:
            return main + [f for f in data if "model.onnx" in f.path.lower()], None
    plain = [k for k in keys if not k.startswith("consolidated") and _variant(k) is None]
    pool = plain or [k for k in keys if not k.startswith("consolidated")] or keys
    sharded = [k for k in pool if len(groups[k]) > 1 or _SHARD.search(groups[k][0].path)]
    if sharded:
        best = max(sharded, key=lambda k: total_bytes(groups[k]))
    else:
        preferred = [k for k in pool if k.split(".")[0] in {"model", "diffusion_pytorch_model",
                                                           "pytorch_model"}]  # fmt: skip
        best = (preferred or sorted(pool, key=lambda k: -total_bytes(groups[k])))[0]
    note = None if len(pool) == 1 else f"chose {best} among {len(pool)} alternatives"
    return groups[best], note


def _infer_dtype(chosen: Sequence[RepoFile], siblings: Sequence[RepoFile]) -> str | None:
    """The storage dtype, from a variant suffix or the size ratio to a 16-bit variant."""
    variant = _variant(chosen[0].path)
    if variant in _VARIANT_TAG:
        return _VARIANT_TAG[variant]
    half = [f for f in siblings if _variant(f.path) in {"fp16", "bf16"}]
    if half and total_bytes(half) and total_bytes(chosen):
        ratio = total_bytes(chosen) / total_bytes(half)
        return "F32" if ratio > 1.6 else "BF16"
    return None


def select_weights(files: Sequence[RepoFile]) -> Selection | None:
    """Pick one format and one group of files among `files` (all in one directory)."""
    by_format: dict[WeightFormat, list[RepoFile]] = defaultdict(list)
    for f in files:
        fmt = _format(f.path)
        if fmt is not None:
            by_format[fmt].append(f)
    for fmt, _ in _FORMATS:
        if by_format.get(fmt):
            chosen, note = _pick_group(fmt, by_format[fmt])
            return Selection(fmt, tuple(chosen), _infer_dtype(chosen, by_format[fmt]), note)
    return None


def _by_directory(files: Iterable[RepoFile]) -> dict[str, list[RepoFile]]:
    dirs: dict[str, list[RepoFile]] = defaultdict(list)
    for f in files:
        if _SKIP_DIRS.search(f.path):
            continue
        dirs[f.path.rsplit("/", 1)[0] if "/" in f.path else ""].append(f)
    return dirs


def select_components(
    files: Sequence[RepoFile], *, names: Iterable[str] | None = None, default_tag: str = "BF16"
) -> list[ComponentWeights]:
    """Weights per component: a diffusers pipeline's folders, or a custom repo's top folders.

    Args:
        files: Every file of the repo.
        names: Component folder names (from model_index.json); None groups by top folder.
        default_tag: Storage dtype assumed when neither a variant nor a size ratio says.
    """
    wanted = set(names) if names is not None else None
    totals: dict[str, list[Selection]] = defaultdict(list)
    for directory, members in sorted(_by_directory(files).items()):
        top = directory.split("/", 1)[0]
        if not directory or (wanted is not None and top not in wanted):
            continue
        picked = select_weights(members)
        if picked is not None:
            totals[top].append(picked)
    components: list[ComponentWeights] = []
    for name, picks in totals.items():
        tags = {p.dtype_tag for p in picks}
        tag = tags.pop() if len(tags) == 1 and None not in tags else None
        components.append(
            ComponentWeights(
                name=name,
                files=tuple(f.path for p in picks for f in p.files),
                bytes=sum(p.bytes for p in picks),
                format=picks[0].format,
                dtype_tag=tag or default_tag,
                dtype_guessed=tag is None,
            )
        )
    return components
