"""The generated RunPod worker: which worker a model gets (`plan_worker`), its build context
(`render_worker`) or, for vLLM, its template environment (`vllm_env`)."""

from tools.artifacts.worker.plan import (
    BASE_MIN_CUDA,
    DEFAULT_BASE_IMAGE,
    DEFAULT_VLLM_IMAGE,
    VLLM_ARCHITECTURES,
    WeightSource,
    WorkerKind,
    WorkerPlan,
    kind_needs_build,
    plan_comfy_worker,
    plan_worker,
)
from tools.artifacts.worker.render import (
    PINS,
    WorkerFiles,
    build_commands,
    render_worker,
    sample_input,
    vllm_env,
)
from tools.artifacts.worker.values import UnsafeValue, resource_name, slug

__all__ = [
    "BASE_MIN_CUDA",
    "DEFAULT_BASE_IMAGE",
    "DEFAULT_VLLM_IMAGE",
    "PINS",
    "VLLM_ARCHITECTURES",
    "UnsafeValue",
    "WeightSource",
    "WorkerFiles",
    "WorkerKind",
    "WorkerPlan",
    "build_commands",
    "kind_needs_build",
    "plan_comfy_worker",
    "plan_worker",
    "render_worker",
    "resource_name",
    "sample_input",
    "slug",
    "vllm_env",
]
