"""Render a ComfyUI worker (`WorkerPlan.kind == "comfyui"`) into its build context.

The image is RunPod's ComfyUI worker (the base-image table's `comfyui` entry) plus:
- the custom nodes, each at its pinned version (`comfy-node-install id@version`, or a git
  checkout of a commit for a package pinned to one);
- the model files, fetched at build time by `fetch_models.py` (the Hugging Face token as a
  BuildKit secret) or expected on the network volume;
- the workflow (`workflow.json`) and its job contract (`inputs.json`: the exposed inputs and
  the output nodes), read by the static `handler.py`.

The handler (`handler.py`, with `comfy_api.py` for ComfyUI's API) and the fetcher are
static Python files (templates/comfy/), so they are linted, type-checked and tested as they
ship; only the Dockerfile is a template. Every value that
reaches the Dockerfile passes the checks of `values.py`; the rest goes into JSON.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Final, cast

from pydantic import JsonValue

from tools.artifacts._jinja import template_environment
from tools.artifacts.worker.base_images import base_image, find_image
from tools.artifacts.worker.plan import WorkerPlan
from tools.artifacts.worker.values import (
    UnsafeValue,
    check_dockerfile_value,
    check_repo_id,
    check_revision,
    json_text,
    slug,
)
from tools.comfy.model import ComfyWorker, ModelFile, NodePackage

if TYPE_CHECKING:  # jinja2 is imported when the first environment is built
    from jinja2 import Environment

__all__ = [
    "COMFY_PINS",
    "VOLUME_FOLDERS",
    "comfy_sample_input",
    "render_comfy",
]

_TEMPLATES: Final = Path(__file__).parent / "templates" / "comfy"
# The handler's dependencies beyond runpod, which `render.py` pins as for every worker
# (PyPI, checked 2026-12). render.py imports this module, so the pins come in as arguments.
COMFY_PINS: Final = {"websocket-client": "1.9.2"}
# Where the base image's extra_model_paths.yaml (worker-comfyui 5.8.5) finds each models
# folder under /runpod-volume/models. ComfyUI reads `unet` as diffusion_models and `clip`
# as text_encoders (folder_paths.map_legacy), so those two live there on a volume. The
# other folders are not mapped: such a model must be baked into the image.
VOLUME_FOLDERS: Final = {
    **{f: f for f in ("checkpoints", "clip", "clip_vision", "controlnet", "embeddings")},
    **{f: f for f in ("loras", "upscale_models", "vae", "unet")},
    "diffusion_models": "unet",
    "text_encoders": "clip",
}
_PACKAGE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_VERSION: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")
_COMMIT: Final = re.compile(r"[0-9a-f]{40}")
_REPO_URL: Final = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9_./-]+")
_FILES: Final = ("handler.py", "comfy_api.py", "fetch_models.py")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = template_environment(_TEMPLATES, autoescape=False, trim=True)
    filters = cast("dict[str, Any]", env.filters)  # pyright: ignore[reportUnknownMemberType]  # jinja2 leaves it untyped
    filters.update(docker=check_dockerfile_value)
    return env


def _comfy(plan: WorkerPlan) -> ComfyWorker:
    if plan.kind != "comfyui" or plan.comfy is None:
        raise ValueError("only a comfyui plan with its workflow renders a ComfyUI worker")
    return plan.comfy


def _base(plan: WorkerPlan) -> str:
    entry = find_image(plan.base_image)
    if entry is None or entry.key != "comfyui":
        raise UnsafeValue(
            f"a ComfyUI worker builds on {base_image('comfyui').ref} (the base-image table's "
            f"comfyui entry), not on {plan.base_image}"
        )
    return plan.base_image


def _relative(text: str, what: str) -> str:
    """A relative path with no `..`, no backslash and no control character, or UnsafeValue."""
    parts = PurePosixPath(text).parts
    if (
        not text
        or text.startswith("/")
        or "\\" in text
        or not text.isprintable()
        or any(p in {"..", "."} for p in parts)
        or len(text) > 500
    ):
        raise UnsafeValue(f"{what} {text!r} is not a plain relative file path")
    return text


def _node_installs(packages: tuple[NodePackage, ...]) -> tuple[list[str], list[dict[str, str]]]:
    """(`id@version` for the registry, {id, url, commit} for commit pins); UnsafeValue for
    an unpinned package or a value that cannot go into a Dockerfile."""
    registry: list[str] = []
    commits: list[dict[str, str]] = []
    for package in packages:
        name = package.package_id
        if not _PACKAGE_ID.fullmatch(name):
            raise UnsafeValue(f"custom-node package id {name!r} is not a registry id")
        version = package.version
        if not version:
            raise UnsafeValue(f"custom-node package {name} has no pinned version: give one")
        if _COMMIT.fullmatch(version):
            if not _REPO_URL.fullmatch(package.repo_url):
                raise UnsafeValue(
                    f"{name} is pinned to a commit but {package.repo_url!r} is "
                    "not an https repository URL"
                )
            url = check_dockerfile_value(package.repo_url)
            commits.append({"id": name, "url": url, "commit": version})
        elif _VERSION.fullmatch(version):
            registry.append(check_dockerfile_value(f"{name}@{version}"))
        else:
            raise UnsafeValue(f"custom-node package {name}: {version!r} is not a version")
    return registry, commits


def _model_entry(model: ModelFile, *, volume: bool) -> dict[str, JsonValue]:
    source = model.source
    if source is None:
        raise UnsafeValue(f"model {model.filename} has no source: give its Hugging Face repo")
    folder_on_volume = VOLUME_FOLDERS.get(model.folder)
    if volume and folder_on_volume is None:
        raise UnsafeValue(
            f"model {model.filename} is a {model.folder} file, a folder the ComfyUI image "
            "does not read from a network volume: bake the models into the image instead"
        )
    filename = _relative(model.filename, "model file name")
    return {
        "filename": filename,
        "folder": model.folder,
        "repo_id": check_repo_id(source.repo_id),
        "path": _relative(source.path, "model path"),
        "revision": check_revision(source.revision),
        "size_bytes": source.size_bytes,
        "gated": source.gated,
        "image_path": f"{model.folder}/{filename}",
        "volume_path": f"{folder_on_volume or model.folder}/{filename}",
    }


def _contract(comfy: ComfyWorker) -> dict[str, JsonValue]:
    """inputs.json: the job's fields and the nodes whose files are returned, each checked
    against the workflow, so the handler writes only where the workflow has an input."""
    workflow = comfy.workflow
    for field in comfy.inputs:
        node = cast("dict[str, Any]", workflow.get(field.node_id) or {})
        if field.input_name not in (node.get("inputs") or {}):
            raise UnsafeValue(
                f"input {field.name} sets {field.input_name} of node {field.node_id}, "
                "which the workflow does not have"
            )
    for node_id in comfy.output_node_ids:
        if node_id not in workflow:
            raise UnsafeValue(f"output node {node_id} is not in the workflow")
    return {
        "fields": [field.model_dump(mode="json") for field in comfy.inputs],
        "output_node_ids": list(comfy.output_node_ids),
    }


def comfy_sample_input(plan: WorkerPlan, *, image: bytes) -> dict[str, JsonValue]:
    """The job a ComfyUI worker is smoke-tested with: every exposed input at the workflow's
    own value; an image input gets `image` (a small real PNG: the workflow's value names a
    file that only its author's ComfyUI has)."""
    job: dict[str, JsonValue] = {}
    for field in _comfy(plan).inputs:
        if field.kind == "image":
            job[field.name] = base64.b64encode(image).decode("ascii")
        elif field.default is not None:
            job[field.name] = field.default
    return job


def render_comfy(
    plan: WorkerPlan, *, secret: bool, pins: dict[str, str], sample_image: bytes
) -> dict[str, str]:
    """The build context of a ComfyUI worker: file name -> text (`render_worker` wraps it).

    Args:
        plan: A comfyui plan (`plan_comfy_worker`), its workflow resolved and pinned.
        secret: Mount the Hugging Face token as a BuildKit secret while fetching models.
        pins: The handler's requirements, name -> version (runpod's and COMFY_PINS).
        sample_image: The PNG an image input gets in test_input.json.

    Raises:
        UnsafeValue: A package is not pinned, a model has no source or cannot be read from
            a volume, or a value cannot go where it must.
    """
    comfy = _comfy(plan)
    volume = plan.weights == "network_volume"
    registry, commits = _node_installs(comfy.packages)
    models = {
        "weights": plan.weights,
        "files": [_model_entry(m, volume=volume) for m in comfy.models],
    }
    context = {
        "plan": plan,
        "title": slug(comfy.name),
        "base_image": _base(plan),
        "registry_nodes": registry,
        "git_nodes": commits,
        "baked": not volume,
        "secret": secret,
    }
    requirements = "".join(f"{name}=={version}\n" for name, version in pins.items())
    files = {
        "Dockerfile": _environment().get_template("Dockerfile.j2").render(context),
        "requirements.txt": f"# Pinned: the ComfyUI worker's handler.\n{requirements}",
        "workflow.json": json_text(comfy.workflow) + "\n",
        "inputs.json": json_text(_contract(comfy)) + "\n",
        "models.json": json_text(models) + "\n",
        "test_input.json": json_text({"input": comfy_sample_input(plan, image=sample_image)})
        + "\n",
        **{name: (_TEMPLATES / name).read_text(encoding="utf-8") for name in _FILES},
    }
    files[".dockerignore"] = "*\n" + "".join(f"!{name}\n" for name in sorted(files))
    return files
