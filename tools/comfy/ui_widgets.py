"""Which widget value of a UI-format node is which input.

A UI save keeps a node's widget values as a bare list (`widgets_values`); ComfyUI's
frontend names them from the server's node definitions when it queues a prompt. KripTik has
no server to ask, so the names come from, in order:

1. the node's own `inputs`: recent frontends list every widget there as
   `{"name": ..., "widget": {"name": ...}}`;
2. `CORE_WIDGET_NAMES`, the widget order of common core nodes (older saves list only the
   widgets that were turned into sockets);
3. names the caller passes (e.g. from a ComfyUI `/object_info`).

A seed widget is followed in the list by its "control after generate" word (`randomize`,
`fixed`, ...), which the frontend never sends; it is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any, Final, cast

__all__ = ["CONTROL_WORDS", "CORE_WIDGET_NAMES", "UI_ONLY_WIDGETS", "name_widgets"]

#: The values of the frontend's "control after generate" combo that follows a seed.
CONTROL_WORDS: Final = frozenset({"fixed", "increment", "decrement", "randomize"})

#: Widgets the frontend draws but never sends to `/prompt` (LoadImage's upload button).
UI_ONLY_WIDGETS: Final = frozenset({"upload", "control_after_generate"})

_SAMPLER: Final = ("seed", "steps", "cfg", "sampler_name", "scheduler", "denoise")
_LATENT: Final = ("width", "height", "batch_size")
_VIDEO_LATENT: Final = ("width", "height", "length", "batch_size")

#: Widget names, in the order a UI save lists their values, of common core nodes (from the
#: INPUT_TYPES of ComfyUI's built-in nodes; the seed's control word is not a name).
CORE_WIDGET_NAMES: Final[Mapping[str, tuple[str, ...]]] = {
    "KSampler": _SAMPLER,
    "KSamplerAdvanced": (
        "add_noise", "noise_seed", "steps", "cfg", "sampler_name", "scheduler",
        "start_at_step", "end_at_step", "return_with_leftover_noise",
    ),
    "SamplerCustom": ("add_noise", "noise_seed", "cfg"),
    "SamplerCustomAdvanced": (),
    "CLIPTextEncode": ("text",),
    "CLIPTextEncodeSDXL": (
        "width", "height", "crop_w", "crop_h", "target_width", "target_height",
        "text_g", "text_l",
    ),
    "CLIPTextEncodeSDXLRefiner": ("ascore", "width", "height", "text"),
    "CLIPTextEncodeFlux": ("clip_l", "t5xxl", "guidance"),
    "CLIPSetLastLayer": ("stop_at_clip_layer",),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "ImageOnlyCheckpointLoader": ("ckpt_name",),
    "EmptyLatentImage": _LATENT,
    "EmptySD3LatentImage": _LATENT,
    "EmptyHunyuanLatentVideo": _VIDEO_LATENT,
    "EmptyMochiLatentVideo": _VIDEO_LATENT,
    "EmptyLTXVLatentVideo": _VIDEO_LATENT,
    "VAELoader": ("vae_name",),
    "VAEDecode": (),
    "VAEEncode": (),
    "SaveImage": ("filename_prefix",),
    "PreviewImage": (),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "LoraLoaderModelOnly": ("lora_name", "strength_model"),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "DualCLIPLoader": ("clip_name1", "clip_name2", "type", "device"),
    "TripleCLIPLoader": ("clip_name1", "clip_name2", "clip_name3"),
    "CLIPLoader": ("clip_name", "type", "device"),
    "CLIPVisionLoader": ("clip_name",),
    "CLIPVisionEncode": ("crop",),
    "StyleModelLoader": ("style_model_name",),
    "StyleModelApply": ("strength", "strength_type"),
    "FluxGuidance": ("guidance",),
    "ModelSamplingFlux": ("max_shift", "base_shift", "width", "height"),
    "ModelSamplingSD3": ("shift",),
    "RandomNoise": ("noise_seed",),
    "BasicScheduler": ("scheduler", "steps", "denoise"),
    "KSamplerSelect": ("sampler_name",),
    "BasicGuider": (),
    "CFGGuider": ("cfg",),
    "ConditioningCombine": (),
    "ConditioningZeroOut": (),
    "ConditioningSetArea": ("width", "height", "x", "y", "strength"),
    "ConditioningSetTimestepRange": ("start", "end"),
    "LoadImage": ("image", "upload"),
    "ControlNetLoader": ("control_net_name",),
    "ControlNetApply": ("strength",),
    "ControlNetApplyAdvanced": ("strength", "start_percent", "end_percent"),
    "SetUnionControlNetType": ("type",),
    "UpscaleModelLoader": ("model_name",),
    "ImageUpscaleWithModel": (),
    "LatentUpscale": ("upscale_method", "width", "height", "crop"),
    "LatentUpscaleBy": ("upscale_method", "scale_by"),
    "ImageScale": ("upscale_method", "width", "height", "crop"),
    "ImageScaleBy": ("upscale_method", "scale_by"),
    "Canny": ("low_threshold", "high_threshold"),
    "InpaintModelConditioning": ("noise_mask",),
    "InstructPixToPixConditioning": (),
    "SaveAnimatedWEBP": ("filename_prefix", "fps", "lossless", "quality", "method"),
    "SaveAnimatedPNG": ("filename_prefix", "fps", "compress_level"),
}  # fmt: skip


def _socket_names(node: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The widget names the node lists in its inputs, and whether the save lists every
    widget (it does when one of them is a plain widget, not a converted socket)."""
    names: list[str] = []
    lists_all = False
    raw = node.get("inputs")
    for item in cast("list[object]", raw) if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        slot = cast("Mapping[str, Any]", item)
        widget = slot.get("widget")
        if isinstance(widget, dict) and isinstance(slot.get("name"), str):
            names.append(str(slot["name"]))
            lists_all = lists_all or slot.get("link") is None
    return names, lists_all


def _value_count(values: Sequence[Any]) -> int:
    """How many values name a widget: each control word that follows an integer is not."""
    skipped = sum(
        1 for before, value in pairwise(values) if _is_int(before) and value in CONTROL_WORDS
    )
    return len(values) - skipped


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pick_names(
    node: Mapping[str, Any], values: Sequence[Any], extra: Mapping[str, Sequence[str]]
) -> Sequence[str] | None:
    class_type = str(node.get("type", ""))
    sockets, lists_all = _socket_names(node)
    if lists_all and len(sockets) >= _value_count(values):
        return sockets
    for table in (extra, CORE_WIDGET_NAMES):
        if class_type in table:
            return table[class_type]
    if len(sockets) >= _value_count(values):
        return sockets
    return None


def name_widgets(
    node: Mapping[str, Any], values: Sequence[Any], extra: Mapping[str, Sequence[str]]
) -> dict[str, Any] | None:
    """Widget name -> value for one UI node; None when its widget names are not known.

    Values past the last known name are left out (extensions append UI-only values), and
    widgets the frontend never sends (`UI_ONLY_WIDGETS`) are dropped.
    """
    names = _pick_names(node, values, extra)
    if names is None:
        return None
    surplus = len(values) - len(names)
    out: dict[str, Any] = {}
    position = 0
    for name in names:
        if position >= len(values):
            break
        value = values[position]
        position += 1
        following = values[position] if position < len(values) else None
        if surplus > 0 and _is_int(value) and following in CONTROL_WORDS:
            position += 1  # the seed's "control after generate" word
            surplus -= 1
        if name not in UI_ONLY_WIDGETS:
            out[name] = value
    return out
