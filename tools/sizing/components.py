"""What each component of a diffusers pipeline is: its class (model_index.json), its
config.json, and its safetensors headers (dtype, element counts, largest tensor).

`inspect_model` first chooses the weight files of each component folder (`weights.py`);
this reads the small files beside them, so that sizing counts every component's real
elements per dtype (not a file size divided by a guessed dtype) and knows its shape.
Headers are read by HTTP Range, one request per file, all at once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from tools.sizing.dtypes import FLOAT_TENSOR_DTYPES
from tools.sizing.hub import HubReader
from tools.sizing.requirements import ComponentWeights

if TYPE_CHECKING:
    from huggingface_hub.utils import SafetensorsFileMetadata

__all__ = ["component_classes", "read_components"]


def component_classes(model_index: Mapping[str, Any] | None) -> dict[str, str]:
    """Each component's class name, as model_index.json lists it (`"unet": ["diffusers",
    "UNet2DConditionModel"]`)."""
    classes: dict[str, str] = {}
    for key, value in (model_index or {}).items():
        if key.startswith("_") or not isinstance(value, list):
            continue
        spec = cast("list[object]", value)
        if len(spec) == 2 and isinstance(spec[1], str):
            classes[key] = spec[1]
    return classes


def _from_headers(
    component: ComponentWeights, headers: list[SafetensorsFileMetadata | None]
) -> ComponentWeights:
    """The component with its element counts per dtype and its largest tensor, when every
    chosen file had a header; unchanged otherwise (sizes and a dtype guess remain)."""
    present = [h for h in headers if h is not None]
    if not present or len(present) != len(headers):
        return component
    counts: dict[str, int] = defaultdict(int)
    largest = 0
    for header in present:
        for tensor in header.tensors.values():
            counts[str(tensor.dtype)] += tensor.parameter_count
            largest = max(largest, tensor.parameter_count)
    floats = {tag: n for tag, n in counts.items() if tag in FLOAT_TENSOR_DTYPES}
    tag = max(floats, key=lambda t: floats[t]) if floats else component.dtype_tag
    return component.model_copy(
        update={
            "parameters_by_dtype": dict(counts),
            "largest_tensor_params": largest,
            "dtype_tag": tag,
            "dtype_guessed": False,
        }
    )


async def _one(
    hub: HubReader, repo: str, revision: str | None, component: ComponentWeights,
    class_name: str | None,
) -> ComponentWeights:  # fmt: skip
    config = await hub.read_json(repo, f"{component.name}/config.json", revision=revision)
    found = component.model_copy(update={"class_name": class_name, "config": config})
    if component.format != "safetensors":
        return found
    headers = await asyncio.gather(
        *(hub.safetensors_file_metadata(repo, path, revision=revision) for path in found.files)
    )
    return _from_headers(found, list(headers))


async def read_components(
    hub: HubReader, repo: str, revision: str | None, components: list[ComponentWeights],
    model_index: Mapping[str, Any] | None,
) -> list[ComponentWeights]:  # fmt: skip
    """Every component with its class, config.json and safetensors header counts.

    Raises what the `HubReader` raises (`SizingError`s) when the Hub cannot answer.
    """
    classes = component_classes(model_index)
    return list(
        await asyncio.gather(
            *(_one(hub, repo, revision, c, classes.get(c.name)) for c in components)
        )
    )
