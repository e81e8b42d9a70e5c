"""The web app that fits a deployment: which page, for which endpoint, under which name.

```
vllm                                   -> LLM chat (streams through /openai/v1)
diffusers, text-to-image / image-to-image -> prompt box and gallery
a *video* task                         -> job page with a <video> player
a 3D task or model (Hunyuan3D, TRELLIS...) -> job page with a <model-viewer>
anything else                          -> generic JSON form, prefilled with the worker's
                                          smoke-test input
comfyui                                -> the workflow's form: one field per exposed input
                                          (the plan's worker.comfy.inputs), its defaults
                                          as the example input
```

The endpoint's target is the plan's `target` (RunPod unless set); a Hugging Face endpoint,
Cloud Run service or SageMaker endpoint is called at the record's `urls["base"]` (for
SageMaker its InvokeEndpoint URL, signed for the plan's region, `target_gpu.region`,
serving TGI's requests unless the plan built our worker image for it, and naming its
inference component when the plan keeps no instance always on: `workers_min` 0).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from tools.artifacts.client import EndpointInfo, InputField, field_defaults
from tools.artifacts.client.fields import clean_label
from tools.artifacts.webapp import AppKind, AppSpec, MediaKind
from tools.artifacts.worker import kind_needs_build
from tools.comfy import UserInput
from tools.publish._json import as_dict, as_list
from vault.deployments import DeploymentView

__all__ = ["AppUnavailable", "default_project", "spec_from_deployment"]

_IMAGE_TASKS = frozenset(
    {"text-to-image", "image-to-image", "inpainting", "unconditional-image-generation"}
)
_3D = re.compile(r"(^|[^a-z])(3d|mesh|gltf|glb|trellis)([^a-z]|$)", re.IGNORECASE)


class AppUnavailable(ValueError):
    """No web app can be made for this endpoint (yet); the message says why."""


def default_project(repo_id: str) -> str:
    """A repo and site name from a model id ("Qwen/Qwen2.5-0.5B" -> "qwen2-5-0-5b-app")."""
    name = re.sub(r"[^a-z0-9]+", "-", repo_id.split("/")[-1].lower()).strip("-")[:55].strip("-")
    return f"{name or 'model'}-app"


def _kind(worker_kind: str, task: str, repo_id: str) -> tuple[AppKind, MediaKind | None]:
    if worker_kind == "vllm":
        return "llm", None
    if "video" in task:
        return "media", "video"
    if _3D.search(task) or _3D.search(repo_id):
        return "media", "model3d"
    if worker_kind == "diffusers" and task in _IMAGE_TASKS:
        return "image", None
    return "generic", None


def spec_from_deployment(
    view: DeploymentView, *, project: str | None = None, title: str | None = None
) -> AppSpec:
    """The app for a deployment's endpoint.

    Raises:
        AppUnavailable: The deployment has no endpoint yet.
    """
    if not view.endpoint_id:
        raise AppUnavailable(
            f"the deployment of {view.repo_id} has no endpoint yet ({view.state}); "
            "wait until it is ready"
        )
    worker: dict[str, Any] = as_dict(view.plan.get("worker"))
    if view.kind == "comfyui":
        return _workflow_spec(view, as_dict(worker.get("comfy")), project=project, title=title)
    kind, media = _kind(view.kind, str(worker.get("task") or ""), view.repo_id)
    example = as_dict(view.plan.get("test_input")) if kind != "llm" else {}
    return AppSpec(
        kind=kind,
        media=media,
        project=project or default_project(view.repo_id),
        title=title or view.repo_id.split("/")[-1],
        endpoint=_endpoint(view, chat=kind == "llm"),
        example_input=example,
    )


def _workflow_spec(
    view: DeploymentView, comfy: dict[str, Any], *, project: str | None, title: str | None
) -> AppSpec:
    """The form of a ComfyUI workflow: one field per input the worker exposes."""
    try:
        inputs = [UserInput.model_validate(i) for i in as_list(comfy.get("inputs"))]
    except ValidationError as err:
        raise AppUnavailable(
            f"the stored inputs of the workflow {view.repo_id} are unreadable "
            f"({err.error_count()} problem(s)); deploy the workflow again"
        ) from None
    fields = tuple(InputField.from_user_input(i) for i in inputs)
    name = clean_label(str(comfy.get("name") or "")) or view.repo_id.split("/")[-1]
    return AppSpec(
        kind="workflow",
        project=project or default_project(view.repo_id),
        title=title or name,
        endpoint=_endpoint(view, chat=False),
        example_input=field_defaults(fields),
        fields=fields,
    )


def _endpoint(view: DeploymentView, *, chat: bool) -> EndpointInfo:
    """The deployment's endpoint as generated code calls it: by id on RunPod, by its base
    URL elsewhere (vLLM's and text-generation-inference's OpenAI route for a chat app)."""
    target = str(view.plan.get("target") or "runpod")
    if target == "runpod":
        return EndpointInfo(
            endpoint_id=str(view.endpoint_id), model_id=view.repo_id, openai_compatible=chat
        )
    url = view.urls.get("base")
    if not isinstance(url, str) or not url:
        raise AppUnavailable(
            f"the deployment of {view.repo_id} has no URL yet ({view.state}); "
            "wait until it is ready"
        )
    region = as_dict(view.plan.get("target_gpu")).get("region") if target == "sagemaker" else None
    if target == "sagemaker" and not region:
        raise AppUnavailable(
            f"the SageMaker deployment of {view.repo_id} records no region; deploy it again"
        )
    return EndpointInfo.model_validate({
        "endpoint_id": view.endpoint_id, "model_id": view.repo_id, "target": target,
        "url": url, "openai_compatible": chat and target == "huggingface", "region": region,
        "serving": "worker" if target == "sagemaker" and _needs_build(view) else "tgi",
        "inference_component": _component(view) if target == "sagemaker" else None,
    })  # fmt: skip


def _component(view: DeploymentView) -> str | None:
    """The inference component of a SageMaker deployment that scales to zero (its plan
    keeps no instance always on), named like its endpoint; None for a classic endpoint
    (SageMaker plans from before scale to zero keep every instance always on)."""
    return str(view.endpoint_id) if view.plan.get("workers_min") == 0 else None


def _needs_build(view: DeploymentView) -> bool:
    """Whether the plan built our worker image (`WorkerPlan.needs_build`). The stored plan
    keeps the worker's kind, not the property; a record from before SageMaker ran our
    worker (a TGI language model) reads as TGI."""
    return kind_needs_build(str(as_dict(view.plan.get("worker")).get("kind") or view.kind))
