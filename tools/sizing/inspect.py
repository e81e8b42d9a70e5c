"""`inspect_model`: what a Hugging Face model needs, from metadata alone (no weights).

Reads the repo's file list (with sizes), config.json, model_index.json for diffusers
pipelines, the safetensors metadata, and README.md for any VRAM figure the authors state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from tools.sizing.card import parse_card_vram
from tools.sizing.components import read_components
from tools.sizing.config import parse_architecture, text_config
from tools.sizing.dtypes import tensor_dtype_bytes
from tools.sizing.errors import HubUnavailableError, MalformedConfigError, NoWeightsError
from tools.sizing.hub import HubReader, check_repo_id
from tools.sizing.offline import storage_bytes
from tools.sizing.params import count_parameters
from tools.sizing.quant import detect_quantization, float_tag_for, quantized_counts
from tools.sizing.requirements import (
    Architecture,
    CardVramFigure,
    ComponentWeights,
    ModelRequirements,
    Quantization,
    WeightFormat,
)
from tools.sizing.weights import (
    RepoFile,
    Selection,
    is_skipped,
    is_weight_file,
    select_components,
    select_weights,
)

if TYPE_CHECKING:
    from huggingface_hub.hf_api import ModelInfo

__all__ = ["inspect_model"]

_T = TypeVar("_T")
# Model types transformers implements itself: an `auto_map` in their config is optional.
_NATIVE: Final = frozenset(
    {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "qwen2_vl",
     "qwen2_5_vl", "phi", "phi3", "phimoe", "gemma", "gemma2", "gemma3", "gemma3_text",
     "falcon", "gpt2", "gpt_neox", "gptj", "gpt_bigcode", "bloom", "opt", "mpt", "starcoder2",
     "stablelm", "olmo", "olmo2", "cohere", "cohere2", "deepseek_v2", "deepseek_v3", "dbrx",
     "jamba", "mamba", "mamba2", "t5", "bert", "roberta", "xlm-roberta", "modernbert", "clip",
     "siglip", "whisper", "llava", "llava_next", "mllama", "idefics3", "granite", "granitemoe",
     "glm", "glm4", "gpt_oss", "smollm3", "exaone4", "ernie4_5", "mistral3", "llama4"}
)  # fmt: skip


async def _call(awaitable: Awaitable[_T]) -> _T:
    """A reader's answer. `HubReader`s raise `SizingError`s, which pass through; a network
    failure from a reader that does not translate its errors still means "retry later",
    and anything else is a bug that should surface as itself."""
    try:
        return await awaitable
    except (OSError, TimeoutError) as error:
        raise HubUnavailableError(
            f"Hugging Face could not be read ({type(error).__name__}); try again in a minute"
        ) from error


def _files(info: ModelInfo) -> list[RepoFile]:
    files: list[RepoFile] = []
    for sibling in info.siblings or []:
        size = (
            sibling.size
            if sibling.size is not None
            else (sibling.lfs.size if sibling.lfs else None)
        )
        files.append(RepoFile(sibling.rfilename, size))
    return files


def _library(info: ModelInfo, files: list[RepoFile], config: Mapping[str, Any] | None) -> str:
    names = {f.path for f in files}
    if info.library_name:
        return info.library_name
    if "model_index.json" in names:
        return "diffusers"
    if "modules.json" in names:
        return "sentence-transformers"
    if config and config.get("auto_map"):
        return "custom"
    if config and config.get("model_type"):
        return "transformers"
    return "unknown"


def _license(info: ModelInfo) -> str | None:
    card = info.card_data
    value = getattr(card, "license", None) if card is not None else None
    if isinstance(value, str):
        return value
    for tag in info.tags or []:
        if tag.startswith("license:"):
            return tag.removeprefix("license:")
    return None


def _architecture(
    config: Mapping[str, Any] | None, library: str, repo_id: str
) -> Architecture | None:
    if not config:
        return None
    try:
        return parse_architecture(config)
    except MalformedConfigError as error:
        if library in {"transformers", "sentence-transformers"}:
            raise MalformedConfigError(f"{repo_id}: {error}") from error
        return None


def _component_names(model_index: Mapping[str, Any] | None) -> list[str] | None:
    if not model_index:
        return None
    names: list[str] = []
    for key, value in model_index.items():
        if key.startswith("_") or not isinstance(value, list):
            continue
        spec = cast("list[object]", value)
        if spec and spec[0] is not None:
            names.append(key)
    return names


def _counts_from_sizes(
    root: Selection | None, components: list[ComponentWeights], float_tag: str,
    quant: Quantization,
) -> dict[str, int]:  # fmt: skip
    counts: dict[str, int] = defaultdict(int)
    if root is not None:
        tag = "U8" if quant.method != "none" else (root.dtype_tag or float_tag)
        counts[tag] += root.bytes // (tensor_dtype_bytes(tag) or 1)
    for component in components:
        counts[component.dtype_tag] += component.bytes // (
            tensor_dtype_bytes(component.dtype_tag) or 2
        )
    return dict(counts)


async def _parameters(
    hub: HubReader, info: ModelInfo, repo_id: str, revision: str | None, root: Selection | None
) -> tuple[dict[str, int], str] | None:
    """Parameters per dtype from safetensors metadata, when it matches the chosen files."""
    if root is None or root.format != "safetensors":
        return None
    if info.safetensors and info.safetensors.parameters:
        counts = {str(tag): count for tag, count in info.safetensors.parameters.items()}
        source = "Hub safetensors metadata (model_info)"
    else:
        meta = await _call(hub.safetensors_metadata(repo_id, revision=revision))
        if meta is None:
            return None
        counts = {str(tag): count for tag, count in meta.parameter_count.items()}
        source = "safetensors headers"
    stored = storage_bytes(counts)
    # Guard against metadata that also counted a duplicate (e.g. consolidated.safetensors).
    if root.bytes and not 0.9 <= stored / root.bytes <= 1.1:
        return None
    return counts, source


def _counts(
    found: tuple[dict[str, int], str] | None, root: Selection | None,
    components: list[ComponentWeights], float_tag: str, quant: Quantization,
    architecture: Architecture | None, config: Mapping[str, Any] | None, repo: str,
    sources: dict[str, str],
) -> tuple[dict[str, int], int | None]:  # fmt: skip
    """Parameters per dtype and in all, each from the best source at hand (noted in
    `sources`): checkpoint metadata, else file sizes, else config.json."""
    if found is not None:
        counts, sources["parameters_by_dtype"] = found
    else:
        counts = _counts_from_sizes(root, components, float_tag, quant)
        sources["parameters_by_dtype"] = "file sizes / dtype (storage dtype from variant or config)"
    if not any(counts.values()):
        if architecture is None or config is None:
            raise NoWeightsError(
                f"the Hub reported no size for the weight files of {repo}; try again, or size "
                "it offline with `kriptik size --config config.json --params N`"
            )
        counts = quantized_counts(count_parameters(config), quant, float_tag)
        sources["parameters_by_dtype"] = "computed from config.json (the Hub gave no file sizes)"
    parameter_count = sum(counts.values()) if quant.method == "none" else None
    if architecture is not None and config is not None:
        sources["architecture"] = "config.json"
        if parameter_count is None or found is None:
            parameter_count = count_parameters(config).total
            sources["parameter_count"] = "computed from config.json"
    sources.setdefault("parameter_count", sources["parameters_by_dtype"])
    return counts, parameter_count


async def _small_files(
    hub: HubReader, repo: str, revision: str | None, files: list[RepoFile]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """config.json, model_index.json and README.md, each when the repo has it."""
    names = {f.path for f in files}
    config = model_index = readme = None
    if "config.json" in names:
        config = await _call(hub.read_json(repo, "config.json", revision=revision))
    if "model_index.json" in names:
        model_index = await _call(hub.read_json(repo, "model_index.json", revision=revision))
    if "README.md" in names:
        readme = await _call(hub.read_text(repo, "README.md", revision=revision))
    return config, model_index, readme


def _weights(
    files: list[RepoFile], model_index: Mapping[str, Any] | None, float_tag: str
) -> tuple[Selection | None, list[ComponentWeights], set[str]]:
    """The root weights a loader would use, or a pipeline's components; and their paths."""
    root = select_weights([f for f in files if "/" not in f.path])
    if root is not None and all(f.path.startswith("adapter_model") for f in root.files):
        root = None  # a PEFT adapter: reported with the base model to size instead
    components: list[ComponentWeights] = []
    component_names = _component_names(model_index)
    if component_names is not None:
        components = select_components(files, names=component_names, default_tag=float_tag)
        root = None if components else root
    elif root is None:
        components = select_components(files, default_tag=float_tag)
    chosen = {f.path for f in root.files} if root else {p for c in components for p in c.files}
    return root, components, chosen


async def inspect_model(
    hub: HubReader, repo_id: str, *, revision: str | None = None
) -> ModelRequirements:
    """Inspect a Hugging Face model without downloading its weights.

    Args:
        hub: Read access to the Hub (`HuggingFaceClient`, or a fake in tests).
        repo_id: `owner/name`.
        revision: Branch, tag or commit; the default branch when None.

    Raises:
        UnknownRepoError: No such repo or revision (or it is private to another account).
        GatedRepoError: The licence must be accepted first; the message says where.
        NoWeightsError: The repo holds no weight files.
        MalformedConfigError: config.json of a transformers model is unreadable.
        HubUnavailableError: The Hub could not be reached.
    """
    repo = check_repo_id(repo_id)
    info = await _call(hub.model_info(repo, revision=revision))
    files = _files(info)
    config, model_index, readme = await _small_files(hub, repo, revision, files)
    library = _library(info, files, config)
    architecture = _architecture(config, library, repo)
    float_tag = float_tag_for(config)
    root, components, chosen = await _pick(hub, repo, revision, files, model_index, float_tag)
    if root is None and not components:
        raise await _no_weights(hub, repo, revision, {f.path for f in files})
    weight_format: WeightFormat = root.format if root else components[0].format
    quant = detect_quantization(config, weight_format=weight_format, repo_id=repo)
    sources: dict[str, str] = {"quantization": quant.source, "library": "Hub model info"}
    found = await _found(hub, info, repo, revision, root, components)
    counts, parameter_count = _counts(
        found, root, components, float_tag, quant, architecture, config, repo, sources
    )
    card = _card(readme, sources)
    return ModelRequirements(
        repo_id=repo,
        revision=revision,
        sha=info.sha,
        library=library,
        pipeline_tag=info.pipeline_tag,
        architecture=architecture,
        parameters_by_dtype=counts,
        parameter_count=parameter_count,
        weights_bytes=sum(f.size or 0 for f in files if f.path in chosen),
        weight_format=weight_format,
        weight_files=tuple(sorted(chosen)),
        quantization=quant,
        gated=bool(info.gated),
        license=_license(info),
        trust_remote_code=_remote_code(config),
        download_bytes=_download_bytes(files, chosen),
        repo_bytes=info.used_storage or sum(f.size or 0 for f in files),
        components=tuple(components),
        pipeline_class=_pipeline_class(model_index),
        card_vram=card,
        card_vram_bytes=max((fig.bytes for fig in card), default=None),
        sources=sources | {"weights_bytes": "sizes of the chosen weight files"},
        notes=_notes(root, files, chosen),
    )


async def _pick(
    hub: HubReader, repo: str, revision: str | None, files: list[RepoFile],
    model_index: Mapping[str, Any] | None, float_tag: str,
) -> tuple[Selection | None, list[ComponentWeights], set[str]]:  # fmt: skip
    """The weights a loader would use (`_weights`); a pipeline's components also with their
    classes, config.json and safetensors header counts."""
    root, components, chosen = _weights(files, model_index, float_tag)
    if model_index is not None and components:
        components = await _call(read_components(hub, repo, revision, components, model_index))
    return root, components, chosen


async def _found(
    hub: HubReader, info: ModelInfo, repo: str, revision: str | None, root: Selection | None,
    components: list[ComponentWeights],
) -> tuple[dict[str, int], str] | None:  # fmt: skip
    """Parameters per dtype from safetensors headers: the root checkpoint's, or a
    pipeline's components' (None when they do not cover the chosen files)."""
    if components:
        return _component_parameters(components)
    return await _parameters(hub, info, repo, revision, root)


def _component_parameters(
    components: list[ComponentWeights],
) -> tuple[dict[str, int], str] | None:
    """Parameters per dtype summed over a pipeline's components, when every component's
    safetensors headers were read."""
    if not all(c.parameters_by_dtype for c in components):
        return None
    counts: dict[str, int] = defaultdict(int)
    for component in components:
        for tag, count in component.parameters_by_dtype.items():
            counts[tag] += count
    return dict(counts), "safetensors headers of each component"


def _pipeline_class(model_index: Mapping[str, Any] | None) -> str | None:
    name = (model_index or {}).get("_class_name")
    return name if isinstance(name, str) else None


def _card(readme: str | None, sources: dict[str, str]) -> tuple[CardVramFigure, ...]:
    """VRAM figures the model card states; the largest one's line goes in `sources`."""
    card = parse_card_vram(readme) if readme else ()
    if card:
        top = max(card, key=lambda fig: fig.bytes)
        sources["card_vram_bytes"] = f"README.md line {top.line} (number only)"
    return card


def _remote_code(config: Mapping[str, Any] | None) -> bool:
    """Whether loading needs the repo's own code (an `auto_map` transformers lacks)."""
    auto_map = bool(config and text_config(config).get("auto_map"))
    model_type = str(text_config(config).get("model_type")) if config else ""
    return auto_map and model_type not in _NATIVE


def _download_bytes(files: list[RepoFile], chosen: set[str]) -> int:
    """What a worker downloads: the chosen weights and every non-weight file."""
    return sum(
        f.size or 0 for f in files
        if f.path in chosen or not (is_weight_file(f.path) or is_skipped(f.path))
    )  # fmt: skip


def _notes(root: Selection | None, files: list[RepoFile], chosen: set[str]) -> tuple[str, ...]:
    notes: list[str] = [root.note] if root and root.note else []
    if any(f.size is None for f in files if f.path in chosen):
        notes.append("the Hub did not report every weight file's size")
    return tuple(notes)


async def _no_weights(
    hub: HubReader, repo: str, revision: str | None, names: set[str]
) -> NoWeightsError:
    if "adapter_config.json" in names:
        adapter = await _call(hub.read_json(repo, "adapter_config.json", revision=revision))
        base = (adapter or {}).get("base_model_name_or_path") or "its base model"
        return NoWeightsError(
            f"{repo} is a PEFT adapter (LoRA) without full weights; size {base} instead"
        )
    return NoWeightsError(
        f"{repo} has no weight files (.safetensors, .bin, .pt, .gguf, .onnx); check the repo "
        "id, or whether the weights are published in another repo"
    )
