"""The values a caller of a workflow's endpoint may set, its output size and its outputs.

Prompts are found the way a person reads the graph: from each sampler's (or guider's)
`positive` and `negative` inputs back through the nodes that only carry conditioning on
(FluxGuidance, ConditioningCombine, ControlNetApply, ...) to the text encoders. The first
positive text becomes `prompt`, the first negative `negative_prompt`. Only literal inputs
are exposed: a value that comes over a link is the graph's business, not the caller's.
Ranges are ComfyUI's own for those inputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from tools.comfy.model import InputKind, UserInput, Workflow
from tools.comfy.parse import is_link

__all__ = ["LATENT_NODES", "OUTPUT_NODES", "find_geometry", "find_inputs", "output_node_ids"]

#: Text encoders and their prompt inputs.
_ENCODERS: Final[Mapping[str, tuple[str, ...]]] = {
    "CLIPTextEncode": ("text",),
    "CLIPTextEncodeSDXL": ("text_g", "text_l"),
    "CLIPTextEncodeSDXLRefiner": ("text",),
    "CLIPTextEncodeFlux": ("clip_l", "t5xxl"),
    "CLIPTextEncodeSD3": ("clip_l", "clip_g", "t5xxl"),
}
_ONE: Final = {0: ("conditioning",)}
_PAIR: Final = {0: ("positive",), 1: ("negative",)}
#: Nodes that pass conditioning through: output slot -> the inputs it comes from.
#: ConditioningZeroOut is left out on purpose: the text behind it has no effect.
_CARRIERS: Final[Mapping[str, Mapping[int, tuple[str, ...]]]] = {
    "FluxGuidance": _ONE,
    "ConditioningCombine": {0: ("conditioning_1", "conditioning_2")},
    "ConditioningConcat": {0: ("conditioning_to", "conditioning_from")},
    "ConditioningAverage": {0: ("conditioning_to", "conditioning_from")},
    "ConditioningSetArea": _ONE,
    "ConditioningSetAreaPercentage": _ONE,
    "ConditioningSetAreaStrength": _ONE,
    "ConditioningSetMask": _ONE,
    "ConditioningSetTimestepRange": _ONE,
    "ControlNetApply": _ONE,
    "ControlNetApplyAdvanced": _PAIR,
    "ControlNetApplySD3": _PAIR,
    "InstructPixToPixConditioning": _PAIR,
    "InpaintModelConditioning": _PAIR,
    "StyleModelApply": _ONE,
    "ReferenceLatent": _ONE,
    "unCLIPConditioning": _ONE,
}
#: Samplers and guiders: (positive inputs, negative inputs).
_SAMPLERS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "KSampler": (("positive",), ("negative",)),
    "KSamplerAdvanced": (("positive",), ("negative",)),
    "SamplerCustom": (("positive",), ("negative",)),
    "CFGGuider": (("positive",), ("negative",)),
    "DualCFGGuider": (("cond1", "cond2"), ("negative",)),
    "BasicGuider": (("conditioning",), ()),
}
#: Empty latents that set the output's size: class -> does it take a frame count.
LATENT_NODES: Final[Mapping[str, bool]] = {
    "EmptyLatentImage": False,
    "EmptySD3LatentImage": False,
    "EmptyHunyuanLatentVideo": True,
    "EmptyMochiLatentVideo": True,
    "EmptyLTXVLatentVideo": True,
    "EmptyCosmosLatentVideo": True,
    "Wan22ImageToVideoLatent": True,
}
#: Nodes whose images or videos the worker returns (besides any class named "Save...").
OUTPUT_NODES: Final = frozenset({
    "SaveImage", "PreviewImage", "SaveAnimatedWEBP", "SaveAnimatedPNG", "SaveVideo",
    "SaveWEBM", "VHS_VideoCombine",
})  # fmt: skip

_SEED_MAX: Final = 0xFFFF_FFFF_FFFF_FFFF
_SIZE: Final = (16, 16384)


@dataclass(frozen=True)
class _Spec:
    """One kind of exposed value: where it is read and what a caller may give."""

    field: str
    label: str
    kind: InputKind
    sources: Mapping[str, str]  # class_type -> input name
    low: float | None = None
    high: float | None = None
    below_one_only: bool = False


_LATENTS: Final = tuple(LATENT_NODES)
_SPECS: Final = (
    _Spec(
        "seed", "Seed", "integer",
        {"KSampler": "seed", "KSamplerAdvanced": "noise_seed", "SamplerCustom": "noise_seed",
         "RandomNoise": "noise_seed"},
        0, _SEED_MAX,
    ),
    _Spec("steps", "Steps", "integer",
          dict.fromkeys(("KSampler", "KSamplerAdvanced", "BasicScheduler"), "steps"), 1, 10000),
    _Spec("cfg", "CFG scale", "number",
          dict.fromkeys(("KSampler", "KSamplerAdvanced", "SamplerCustom", "CFGGuider"), "cfg"),
          0, 100),
    _Spec("denoise", "Denoise", "number",
          dict.fromkeys(("KSampler", "BasicScheduler"), "denoise"), 0, 1, below_one_only=True),
    _Spec("guidance", "Guidance", "number", {"FluxGuidance": "guidance"}, 0, 100),
    _Spec("width", "Width", "integer", dict.fromkeys(_LATENTS, "width"), *_SIZE),
    _Spec("height", "Height", "integer", dict.fromkeys(_LATENTS, "height"), *_SIZE),
    _Spec("batch_size", "Batch size", "integer", dict.fromkeys(_LATENTS, "batch_size"), 1, 4096),
    _Spec("frames", "Frames", "integer",
          {k: "length" for k, video in LATENT_NODES.items() if video}, 1, _SIZE[1]),
    _Spec("image", "Input image", "image", {"LoadImage": "image"}),
)  # fmt: skip


def _id_order(node_id: str) -> tuple[int, int, str]:
    return (0, int(node_id), "") if node_id.isdigit() else (1, 0, node_id)


def _ordered(workflow: Workflow) -> list[str]:
    return sorted(workflow.nodes, key=_id_order)


def _literal(value: Any, kind: InputKind) -> bool:
    if kind in ("text", "image"):
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return kind == "number" or float(value).is_integer()


def _texts_behind(workflow: Workflow, link: Any, seen: set[str]) -> Iterator[tuple[str, str]]:
    """(node id, input) of every literal prompt text that feeds a conditioning link."""
    if not is_link(link):
        return
    source, slot = cast("list[Any]", link)
    node = workflow.nodes[source]
    if source in seen:
        return
    seen.add(source)
    for name in _ENCODERS.get(node.class_type, ()):
        if isinstance(node.inputs.get(name), str):
            yield source, name
    for name in _CARRIERS.get(node.class_type, {}).get(slot, ()):
        yield from _texts_behind(workflow, node.inputs.get(name), seen)


def _prompt_texts(workflow: Workflow) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    positives: list[tuple[str, str]] = []
    negatives: list[tuple[str, str]] = []
    samplers = [i for i in _ordered(workflow) if workflow.nodes[i].class_type in _SAMPLERS]
    for node_id in samplers:
        node = workflow.nodes[node_id]
        plus, minus = _SAMPLERS[node.class_type]
        for names, found in ((plus, positives), (minus, negatives)):
            for name in names:
                found.extend(_texts_behind(workflow, node.inputs.get(name), set()))
    if not samplers:  # an unknown (custom) sampler: every encoder's text, by its title
        for node_id in _ordered(workflow):
            node = workflow.nodes[node_id]
            side = negatives if "negative" in (node.title or "").lower() else positives
            side.extend(
                (node_id, n)
                for n in _ENCODERS.get(node.class_type, ())
                if isinstance(node.inputs.get(n), str)
            )
    unique_positives = list(dict.fromkeys(positives))
    taken = set(unique_positives)
    return unique_positives, [t for t in dict.fromkeys(negatives) if t not in taken]


class _Namer:
    """Field names and labels, a suffix on the second and later of a kind (`prompt_2`)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def __call__(self, field: str, label: str) -> tuple[str, str]:
        count = self._counts[field] = self._counts.get(field, 0) + 1
        return (field, label) if count == 1 else (f"{field}_{count}", f"{label} {count}")


def _prompt_inputs(workflow: Workflow, namer: _Namer) -> list[UserInput]:
    positives, negatives = _prompt_texts(workflow)
    found: list[UserInput] = []
    for targets, field, label in (
        (positives, "prompt", "Prompt"),
        (negatives, "negative_prompt", "Negative prompt"),
    ):
        for node_id, input_name in targets:
            name, shown = namer(field, label)
            found.append(
                UserInput(
                    name=name, label=shown, kind="text", node_id=node_id,
                    input_name=input_name, default=workflow.nodes[node_id].inputs[input_name],
                )
            )  # fmt: skip
    return found


def _spec_inputs(workflow: Workflow, spec: _Spec, namer: _Namer) -> list[UserInput]:
    found: list[UserInput] = []
    for node_id in _ordered(workflow):
        node = workflow.nodes[node_id]
        input_name = spec.sources.get(node.class_type)
        value = node.inputs.get(input_name) if input_name else None
        if input_name is None or not _literal(value, spec.kind):
            continue
        if spec.below_one_only and not float(cast("float", value)) < 1:
            continue
        if spec.kind == "integer":
            value = int(cast("float", value))
        name, label = namer(spec.field, spec.label)
        found.append(
            UserInput(
                name=name, label=label, kind=spec.kind, node_id=node_id,
                input_name=input_name, default=value, minimum=spec.low, maximum=spec.high,
            )
        )  # fmt: skip
    return found


def find_inputs(workflow: Workflow) -> tuple[UserInput, ...]:
    """The values a caller may set: prompts, seed, steps, cfg, denoise (when below 1),
    guidance, size, batch, frames and input images, each with the workflow's value as its
    default. Inputs fed over a link are not exposed."""
    namer = _Namer()
    found = _prompt_inputs(workflow, namer)
    for spec in _SPECS:
        found += _spec_inputs(workflow, spec, namer)
    return tuple(found)


def _int_input(inputs: Mapping[str, Any], name: str) -> int | None:
    value = inputs.get(name)
    if _literal(value, "integer") and cast("float", value) >= 1:
        return int(cast("float", value))
    return None


def find_geometry(workflow: Workflow) -> tuple[int, int, int, int | None]:
    """(width, height, batch, frames) from the empty-latent node that a sampler uses (or
    the first one); (1024, 1024, 1, None) when no latent node says."""
    fed = {cast("list[str]", v)[0] for n in workflow.nodes.values() for v in n.inputs.values()
           if is_link(v)}  # fmt: skip
    latents = [i for i in _ordered(workflow) if workflow.nodes[i].class_type in LATENT_NODES]
    for node_id in sorted(latents, key=lambda i: i not in fed):
        node = workflow.nodes[node_id]
        width, height = _int_input(node.inputs, "width"), _int_input(node.inputs, "height")
        if width is None or height is None:
            continue
        batch = _int_input(node.inputs, "batch_size") or 1
        frames = _int_input(node.inputs, "length") if LATENT_NODES[node.class_type] else None
        return width, height, batch, frames
    return 1024, 1024, 1, None


def output_node_ids(workflow: Workflow) -> tuple[str, ...]:
    """The nodes whose images or videos a run returns, in node-id order."""
    return tuple(
        node_id
        for node_id in _ordered(workflow)
        if workflow.nodes[node_id].class_type in OUTPUT_NODES
        or workflow.nodes[node_id].class_type.startswith("Save")
    )
