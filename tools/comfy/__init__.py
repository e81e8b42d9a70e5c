"""ComfyUI workflows: import (both of ComfyUI's formats), analysis (models, custom nodes,
user inputs) and sizing. Data in, data out: fetching lives in `tools.clients`."""

from tools.comfy.inputs import find_geometry, find_inputs, output_node_ids
from tools.comfy.loaders import LOADERS, find_models
from tools.comfy.model import (
    MAX_WORKFLOW_BYTES,
    ApiNode,
    ComfyWorker,
    InputKind,
    ModelFile,
    ModelFolder,
    ModelSource,
    NodePackage,
    UserInput,
    Workflow,
    WorkflowAnalysis,
    WorkflowError,
)
from tools.comfy.parse import check_workflow_url, parse_workflow, workflow_digest, workflow_slug
from tools.comfy.resolve import (
    FileInfo,
    FileSizes,
    NodeLookup,
    core_class_types,
    custom_class_types,
    known_models_as_of,
    parse_model_source,
    resolve_models,
    resolve_packages,
)

__all__ = [
    "LOADERS",
    "MAX_WORKFLOW_BYTES",
    "ApiNode",
    "ComfyWorker",
    "FileInfo",
    "FileSizes",
    "InputKind",
    "ModelFile",
    "ModelFolder",
    "ModelSource",
    "NodeLookup",
    "NodePackage",
    "UserInput",
    "Workflow",
    "WorkflowAnalysis",
    "WorkflowError",
    "check_workflow_url",
    "core_class_types",
    "custom_class_types",
    "find_geometry",
    "find_inputs",
    "find_models",
    "known_models_as_of",
    "output_node_ids",
    "parse_model_source",
    "parse_workflow",
    "resolve_models",
    "resolve_packages",
    "workflow_digest",
    "workflow_slug",
]
