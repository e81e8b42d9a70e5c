"""The typed shape of a ComfyUI workflow and of what KripTik finds in it.

A workflow arrives in one of ComfyUI's two formats and is kept in the **API format**, the
one ComfyUI's `/prompt` endpoint runs: a dict of node id -> `{"class_type", "inputs"}`,
where an input is either a literal or a link `[source_node_id, output_index]`. Everything
after import (analysis, sizing, the worker, the web page) reads these models only.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "MAX_WORKFLOW_BYTES",
    "ApiNode",
    "ComfyWorker",
    "InputKind",
    "ModelFile",
    "ModelFolder",
    "ModelSource",
    "NodePackage",
    "UserInput",
    "Workflow",
    "WorkflowAnalysis",
    "WorkflowError",
]

#: A workflow larger than this is refused before it is parsed (real ones are 10-200 KB;
#: anything near this carries embedded data, not a graph).
MAX_WORKFLOW_BYTES: Final = 5 * 1024 * 1024

#: The `ComfyUI/models/<folder>` a file is loaded from (ComfyUI's folder_paths names).
ModelFolder = Literal[
    "checkpoints", "diffusion_models", "unet", "vae", "clip", "text_encoders", "loras",
    "controlnet", "upscale_models", "clip_vision", "style_models", "embeddings",
    "ipadapter", "vae_approx", "gligen", "hypernetworks", "photomaker", "model_patches",
    "audio_encoders", "other",
]  # fmt: skip
InputKind = Literal["text", "integer", "number", "image"]


class WorkflowError(ValueError):
    """A workflow that cannot be taken; the message says what was expected and what to do."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApiNode(_Frozen):
    """One node of an API-format workflow.

    Attributes:
        class_type: The node's class in ComfyUI (e.g. `KSampler`, `CLIPTextEncode`).
        inputs: Input name -> a literal value, or a link `[source_node_id, output_index]`.
        title: The title the user gave it in the editor (`_meta.title`), if any.
    """

    class_type: str = Field(min_length=1, max_length=200)
    inputs: dict[str, JsonValue] = Field(default_factory=dict[str, JsonValue])
    title: str | None = None


class Workflow(_Frozen):
    """A parsed, checked workflow in the API format.

    Attributes:
        name: A short name, from the file name or the URL (e.g. `sdxl-text-to-image`).
        nodes: Node id -> node. Every link points at an existing node; the graph has no cycle.
        source_format: The format it arrived in ("ui" ones were converted).
        digest: sha256 hex of the canonical API JSON: the workflow's identity (worker tag,
            deployment revision).
    """

    name: str
    nodes: dict[str, ApiNode]
    source_format: Literal["api", "ui"]
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")

    @property
    def repo_id(self) -> str:
        """How a deployment names it where a model has its Hub repo id (`comfyui/<name>`):
        the plan, the card and the chat's `deploy_as` all read this one value."""
        return f"comfyui/{self.name}"

    def api_json(self) -> dict[str, Any]:
        """The workflow as ComfyUI's `/prompt` takes it (`_meta.title` kept where set)."""
        out: dict[str, Any] = {}
        for node_id, node in self.nodes.items():
            body: dict[str, Any] = {"class_type": node.class_type, "inputs": dict(node.inputs)}
            if node.title:
                body["_meta"] = {"title": node.title}
            out[node_id] = body
        return out


class ModelSource(_Frozen):
    """Where a model file can be downloaded: a file of a Hugging Face repo.

    Attributes:
        repo_id: `owner/name` on the Hub.
        path: The file's path in the repo.
        revision: Branch, tag or commit the file is read at.
        size_bytes: Its size from the Hub (None: the Hub was not asked or did not say).
        gated: The repo needs an accepted licence and the user's token.
        how: How the source was found (e.g. "ComfyUI-Manager model list", "the user").
    """

    repo_id: str
    path: str
    revision: str = "main"
    size_bytes: int | None = Field(default=None, ge=0)
    gated: bool = False
    how: str = ""

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo_id}/resolve/{self.revision}/{self.path}"


class ModelFile(_Frozen):
    """One model file the workflow loads.

    Attributes:
        filename: As the workflow names it (may hold a subfolder, e.g. `sdxl/x.safetensors`).
        folder: The models folder ComfyUI looks it up in.
        node_ids: The nodes that load it.
        class_type: The loader's class (of the first node).
        source: Where to download it; None when it could not be resolved (the user is asked).
        note: Why it is unresolved, or anything the user must know.
    """

    filename: str
    folder: ModelFolder
    node_ids: tuple[str, ...]
    class_type: str
    source: ModelSource | None = None
    note: str = ""


class NodePackage(_Frozen):
    """A custom-node package the workflow needs.

    Attributes:
        package_id: The ComfyUI registry's id (e.g. `comfyui-kjnodes`), installed with
            `comfy-node-install`; or the repository's name where the registry has none.
        repo_url: Its source repository.
        class_types: The workflow's node classes it provides.
        version: The pinned version installed at build time (None: not known yet; the
            user is asked, nothing is guessed).
    """

    package_id: str
    repo_url: str
    class_types: tuple[str, ...]
    version: str | None = None


class UserInput(_Frozen):
    """A value the caller of the endpoint may set: one input of one node.

    Attributes:
        name: The job-input field (`prompt`, `negative_prompt`, `seed`, `steps`, `cfg`,
            `width`, `height`, `batch_size`, `image`, ...; a second one gets a suffix).
        label: What the web page shows.
        kind: text, integer, number, or image (base64 or URL, written to ComfyUI's input/).
        node_id: The node it sets.
        input_name: The node's input it sets.
        default: The workflow's own value (the smoke test's).
        minimum: Lowest allowed value (numbers).
        maximum: Highest allowed value (numbers).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    label: str
    kind: InputKind
    node_id: str
    input_name: str
    default: JsonValue = None
    # int first: a seed's maximum (2**64 - 1) is not exact as a float.
    minimum: int | float | None = None
    maximum: int | float | None = None


class WorkflowAnalysis(_Frozen):
    """What a workflow needs: its models, its custom nodes and its inputs.

    Attributes:
        workflow: The workflow itself.
        models: Every model file it loads.
        packages: The custom-node packages that provide its non-core nodes.
        unknown_nodes: Non-core node classes that no known package provides.
        inputs: The values a caller may set.
        width: Output width in pixels (from the latent node; 1024 when none says).
        height: Output height in pixels.
        batch: Images per run.
        frames: Frames per run for a video workflow (None: images).
        node_map_as_of: Date of the node -> package list used (None: none was available).
    """

    workflow: Workflow
    models: tuple[ModelFile, ...]
    packages: tuple[NodePackage, ...]
    unknown_nodes: tuple[str, ...]
    inputs: tuple[UserInput, ...]
    width: int = Field(default=1024, ge=1)
    height: int = Field(default=1024, ge=1)
    batch: int = Field(default=1, ge=1)
    frames: int | None = Field(default=None, ge=1)
    node_map_as_of: date | None = None

    @property
    def unresolved(self) -> tuple[str, ...]:
        """One sentence per thing the user must supply before a deployment can be planned."""
        asks = [
            f"model {m.filename} ({m.folder}): {m.note or 'no known source'}; give its "
            "Hugging Face repo and file"
            for m in self.models
            if m.source is None
        ]
        asks += [
            f"node {t}: no known package provides it; give its repository URL"
            for t in self.unknown_nodes
        ]
        asks += [
            f"package {p.package_id}: no pinned version; give a version or commit"
            for p in self.packages
            if p.version is None
        ]
        return tuple(asks)


class ComfyWorker(_Frozen):
    """What a ComfyUI worker image bakes in: the workflow, the exposed inputs, the model
    files to download and the custom nodes to install (all resolved and pinned).

    Attributes:
        name: The workflow's short name.
        workflow: The API-format workflow (the job's defaults).
        inputs: The job-input fields and the node inputs they set.
        models: Every model file, each with its source.
        packages: Custom-node packages, each with its pinned version.
        output_node_ids: The nodes whose images or videos are returned.
    """

    name: str
    workflow: dict[str, Any]
    inputs: tuple[UserInput, ...]
    models: tuple[ModelFile, ...]
    packages: tuple[NodePackage, ...]
    output_node_ids: tuple[str, ...] = ()
