"""`analyze_workflow`: everything a workflow needs, found and resolved in one pass: its model
files with their Hugging Face sources and sizes, the custom-node packages behind its
non-core nodes (pinned), its user inputs and the size of what it makes.

What the user supplied earlier (a model's source, a package's version) wins over what was
looked up; what is still unknown stays unknown and is listed in `unresolved`, for the chat
to ask about: nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from tools.comfy.inputs import find_geometry, find_inputs, output_node_ids
from tools.comfy.loaders import find_models
from tools.comfy.model import ComfyWorker, NodePackage, Workflow, WorkflowAnalysis, WorkflowError
from tools.comfy.resolve import (
    FileSizes,
    NodeLookup,
    custom_class_types,
    resolve_models,
    resolve_packages,
)

__all__ = ["analyze_workflow", "worker_of"]


def _pinned(
    packages: tuple[NodePackage, ...], versions: Mapping[str, str]
) -> tuple[NodePackage, ...]:
    return tuple(
        p.model_copy(update={"version": versions[p.package_id]}) if p.package_id in versions else p
        for p in packages
    )


async def analyze_workflow(
    workflow: Workflow,
    *,
    sizes: FileSizes,
    registry: NodeLookup,
    supplied: Mapping[str, Mapping[str, str]] | None = None,
    node_map_as_of: date | None = None,
) -> WorkflowAnalysis:
    """Find and resolve what `workflow` needs.

    Args:
        workflow: A parsed workflow.
        sizes: Reads a Hub file's size (and whether its repo is gated).
        registry: Finds the package that provides a node class.
        supplied: What the user gave since: `models` (filename -> "owner/repo/path") and
            `versions` (package id -> version).
        node_map_as_of: The date of the node list `registry` answers from.
    """
    supplied = supplied or {}
    models = await resolve_models(
        find_models(workflow), sizes=sizes, overrides=supplied.get("models", {})
    )
    packages, unknown = await resolve_packages(custom_class_types(workflow), registry=registry)
    width, height, batch, frames = find_geometry(workflow)
    return WorkflowAnalysis(
        workflow=workflow, models=models,
        packages=_pinned(packages, supplied.get("versions", {})), unknown_nodes=unknown,
        inputs=find_inputs(workflow), width=width, height=height, batch=batch, frames=frames,
        node_map_as_of=node_map_as_of,
    )  # fmt: skip


def worker_of(analysis: WorkflowAnalysis) -> ComfyWorker:
    """What the worker image bakes in.

    Raises:
        WorkflowError: Something is still unresolved (the message lists each thing).
    """
    if analysis.unresolved:
        raise WorkflowError("the workflow cannot be built yet: " + "; ".join(analysis.unresolved))
    workflow = analysis.workflow
    return ComfyWorker(
        name=workflow.name, workflow=workflow.api_json(), inputs=analysis.inputs,
        models=analysis.models, packages=analysis.packages,
        output_node_ids=output_node_ids(workflow),
    )  # fmt: skip
