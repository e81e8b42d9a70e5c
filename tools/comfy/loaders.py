"""Which model files a workflow loads: ComfyUI's model-loading nodes and the inputs that
name a file, each with the models folder ComfyUI looks the file up in.

`LOADERS` is read from ComfyUI's own node definitions (`nodes.py`, `comfy_extras/`: the
`folder_paths.get_filename_list(<folder>)` of each input) and from a few popular custom
packs whose loaders were checked in their source (ComfyUI-GGUF, ComfyUI_IPAdapter_plus,
ComfyUI-Custom-Scripts, rgthree-comfy, ComfyUI-nunchaku). Any other node that holds a
literal string ending in a model extension is taken to load that file from a folder nobody
knows yet ("other"), so the user is asked where it comes from instead of it being missed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from pydantic import JsonValue

from tools.comfy.model import ApiNode, ModelFile, ModelFolder, Workflow

__all__ = ["LOADERS", "MODEL_EXTENSIONS", "find_models"]

# ComfyUI's `supported_pt_extensions` (folder_paths.py) plus `.gguf` (ComfyUI-GGUF).
MODEL_EXTENSIONS: Final = (".safetensors", ".ckpt", ".pt", ".pt2", ".pth", ".bin", ".gguf", ".sft")

_Inputs = tuple[tuple[str, ModelFolder], ...]
_CKPT: Final[_Inputs] = (("ckpt_name", "checkpoints"),)
_LORA: Final[_Inputs] = (("lora_name", "loras"),)
_UNET: Final[_Inputs] = (("unet_name", "diffusion_models"),)
_CONTROLNET: Final[_Inputs] = (("control_net_name", "controlnet"),)


def _clips(count: int) -> _Inputs:
    return tuple((f"clip_name{i}", "text_encoders") for i in range(1, count + 1))


#: class_type -> the inputs that name a model file, and the folder each is read from. An
#: input name ending in "*" matches every input that starts with the rest (rgthree's
#: numbered LoRA slots).
LOADERS: Final[Mapping[str, _Inputs]] = {
    # core: nodes.py
    "CheckpointLoaderSimple": _CKPT,
    "CheckpointLoader": _CKPT,
    "unCLIPCheckpointLoader": _CKPT,
    "UNETLoader": _UNET,
    "VAELoader": (("vae_name", "vae"),),
    "CLIPLoader": (("clip_name", "text_encoders"),),
    "DualCLIPLoader": _clips(2),
    "LoraLoader": _LORA,
    "LoraLoaderModelOnly": _LORA,
    "ControlNetLoader": _CONTROLNET,
    "DiffControlNetLoader": _CONTROLNET,
    "CLIPVisionLoader": (("clip_name", "clip_vision"),),
    "StyleModelLoader": (("style_model_name", "style_models"),),
    "GLIGENLoader": (("gligen_name", "gligen"),),
    # core: comfy_extras/
    "ImageOnlyCheckpointLoader": _CKPT,
    "TripleCLIPLoader": _clips(3),
    "QuadrupleCLIPLoader": _clips(4),
    "UpscaleModelLoader": (("model_name", "upscale_models"),),
    "HypernetworkLoader": (("hypernetwork_name", "hypernetworks"),),
    "PhotoMakerLoader": (("photomaker_model_name", "photomaker"),),
    "ModelPatchLoader": (("name", "model_patches"),),
    "AudioEncoderLoader": (("audio_encoder_name", "audio_encoders"),),
    "CreateHookLora": _LORA,
    "CreateHookLoraModelOnly": _LORA,
    "CreateHookModelAsLora": _CKPT,
    "CreateHookModelAsLoraModelOnly": _CKPT,
    # ComfyUI-GGUF (city96): `unet_gguf` and `clip_gguf` are the diffusion_models and
    # text_encoders folders, for .gguf files.
    "UnetLoaderGGUF": _UNET,
    "UnetLoaderGGUFAdvanced": _UNET,
    "CLIPLoaderGGUF": (("clip_name", "text_encoders"),),
    "DualCLIPLoaderGGUF": _clips(2),
    "TripleCLIPLoaderGGUF": _clips(3),
    "QuadrupleCLIPLoaderGGUF": _clips(4),
    # ComfyUI_IPAdapter_plus (cubiq)
    "IPAdapterModelLoader": (("ipadapter_file", "ipadapter"),),
    # ComfyUI-Custom-Scripts (pysssss): the name may arrive as {"content": name, "image": ...}
    "LoraLoader|pysssss": _LORA,
    "CheckpointLoader|pysssss": _CKPT,
    # ComfyUI-nunchaku (nunchaku-tech); an older DiT loader's model_path names a folder
    "NunchakuFluxDiTLoader": (("model_path", "diffusion_models"),),
    "NunchakuQwenImageDiTLoader": (("model_name", "diffusion_models"),),
    "NunchakuTextEncoderLoader": (
        ("text_encoder1", "text_encoders"),
        ("text_encoder2", "text_encoders"),
    ),
    "NunchakuTextEncoderLoaderV2": (
        ("text_encoder1", "text_encoders"),
        ("text_encoder2", "text_encoders"),
    ),
    "NunchakuFluxLoraLoader": _LORA,
    "NunchakuFluxLoraStack": (("lora_name_*", "loras"),),
    # rgthree-comfy: Power Lora Loader's slots are {"on": bool, "lora": name, ...}
    "Power Lora Loader (rgthree)": (("lora_*", "loras"),),
    "Lora Loader Stack (rgthree)": (("lora_*", "loras"),),
}

# VAELoader's names that are no file in models/vae: the pixel-space "VAE", and the tiny
# autoencoders that ComfyUI assembles from two files in models/vae_approx.
_NO_FILE_VAES: Final = frozenset({"pixel_space"})
_TAESD_VAES: Final = frozenset({"taesd", "taesdxl", "taesd3", "taef1"})


def _file_name(value: JsonValue) -> str | None:
    """The file a loader input names: a plain string, pysssss' `{"content": name}`, or an
    enabled rgthree slot `{"on": true, "lora": name}`; None for links, "None" and off slots."""
    if isinstance(value, dict):
        if value.get("on") is False:
            return None
        value = value.get("content", value.get("lora"))
    if not isinstance(value, str) or value.strip() in {"", "None"}:
        return None
    return value.strip()


def _matching(node: ApiNode, pattern: str) -> Iterator[tuple[str, JsonValue]]:
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        yield from ((k, v) for k, v in node.inputs.items() if k.startswith(prefix))
    elif pattern in node.inputs:
        yield pattern, node.inputs[pattern]


def _loaded_by(node: ApiNode) -> Iterator[tuple[ModelFolder, str]]:
    """(folder, filename) for each model file the node loads."""
    inputs = LOADERS.get(node.class_type)
    if inputs is None:
        for value in node.inputs.values():
            if isinstance(value, str) and value.strip().lower().endswith(MODEL_EXTENSIONS):
                yield "other", value.strip()
        return
    for pattern, folder in inputs:
        for _, value in _matching(node, pattern):
            name = _file_name(value)
            if name is None or (folder == "vae" and name in _NO_FILE_VAES):
                continue
            if folder == "vae" and name in _TAESD_VAES:
                # madebyollin's published names; ComfyUI matches `<name>_encoder.*`.
                yield "vae_approx", f"{name}_encoder.pth"
                yield "vae_approx", f"{name}_decoder.pth"
            else:
                yield folder, name


def find_models(workflow: Workflow) -> tuple[ModelFile, ...]:
    """Every model file the workflow loads: one entry per distinct (folder, filename), in
    the order the workflow first loads it, with all the nodes that load it.

    Sources are left empty (`resolve.resolve_models` fills them).
    """
    found: dict[tuple[ModelFolder, str], tuple[list[str], str]] = {}
    for node_id, node in workflow.nodes.items():
        for key in _loaded_by(node):
            node_ids, _ = found.setdefault(key, ([], node.class_type))
            if node_id not in node_ids:
                node_ids.append(node_id)
    return tuple(
        ModelFile(filename=name, folder=folder, node_ids=tuple(ids), class_type=class_type)
        for (folder, name), (ids, class_type) in found.items()
    )
