"""`plan_deployment`: from a repo id to everything a deployment will create, with its price,
before anything is created. The plan is what the approval card shows and what the
workflow then carries out (it is stored in the deployment record).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from tools.artifacts.worker import (
    UnsafeValue,
    WeightSource,
    WorkerPlan,
    plan_comfy_worker,
    plan_worker,
    sample_input,
)
from tools.clients.errors import AuthError, GatedRepo, ProviderError
from tools.clients.hub_reader import SizingHubReader
from tools.comfy import WorkflowError
from tools.comfy.analyze import worker_of
from tools.comfy.sizing import comfy_requirements, estimate_workflow, resident_note
from tools.pipeline import comfy_plan, target_pick
from tools.pipeline.diagnose import PoolOption
from tools.pipeline.plan_error import PlanError
from tools.pipeline.services import PipelineServices
from tools.pipeline.target_pick import TARGET_TITLES
from tools.sizing import (
    OFFLOAD_WORDS,
    GpuCatalog,
    GpuChoice,
    GpuOption,
    GpuPick,
    ModelRequirements,
    OffloadOption,
    SizingError,
    VramEstimate,
    catalog_from_runpod,
    choose_gpu,
    estimate_vram,
    inspect_model,
    pick_gpu,
    pool_label,
)
from tools.targets.base import TargetGpu, TargetName

__all__ = ["DeployRequest", "DeploymentPlan", "PlanError", "plan_deployment"]

# Context sized for an LLM when the user names none: long enough for chat, short enough
# that a 7-8B model fits a 24 GB card.
_DEFAULT_CONTEXT: Final = 8192
# RunPod's vLLM worker takes a prompt and sampling params.
_VLLM_SMOKE: Final = {"prompt": "Say hello in five words.", "sampling_params": {"max_tokens": 16}}


class DeployRequest(BaseModel):
    """What the user asked for.

    Attributes:
        repo_id: Hugging Face `owner/name`.
        revision: Branch, tag or commit (default branch when None; pinned to its sha).
        gpu: "auto" for the cheapest pool that fits, or a pool id such as ADA_24.
        dtype: Serving dtype (bf16, fp16, fp32; fp8/int8/int4 keep quantized weights).
        context_tokens: vLLM MAX_MODEL_LEN; None sizes for min(model max, 8192).
        workers_max: Most workers at once (capped per user).
        workers_min: Workers that never scale down (each bills around the clock).
        idle_timeout_s: Seconds a worker waits for more jobs before scaling down.
        weights: "baked" into the image, or "network_volume".
        ttl_s: The endpoint's time-to-live (None: the operator's default), e.g. shorter to
            fit a budget (`tools.budget`).
        target: Where it runs: RunPod serverless, Hugging Face Inference Endpoints or Google
            Cloud Run (`tools.targets`).
        region: The target's region (None: the cheapest offer that fits, in any region).
        workflow_id: A ComfyUI workflow the user brought (`vault.workflows`): it is deployed
            instead of a Hub repo (`repo_id` then only names it), on RunPod.
    """

    model_config = ConfigDict(frozen=True)

    repo_id: str
    revision: str | None = None
    gpu: str = "auto"
    dtype: str = "bf16"
    context_tokens: int | None = Field(default=None, ge=256)
    workers_max: int = Field(default=1, ge=1)
    workers_min: int = Field(default=0, ge=0)
    idle_timeout_s: int = Field(default=5, ge=1, le=3600)
    weights: WeightSource = "baked"
    ttl_s: int | None = Field(default=None, ge=60)
    target: TargetName = "runpod"
    region: str | None = None
    workflow_id: str | None = None


class DeploymentPlan(BaseModel):
    """Everything the workflow will do, and what it costs."""

    model_config = ConfigDict(frozen=True)

    worker: WorkerPlan
    pool: str
    pool_label: str
    gpu_count: int
    usd_per_second: float = Field(description="One running worker, all its GPUs.")
    options: tuple[PoolOption, ...]
    workers_min: int
    workers_max: int
    idle_timeout_s: int
    timeout_ms: int = 600_000
    min_cuda: str | None
    required_gib: float = Field(description="The VRAM estimate, GiB.")
    # Where the real peak is expected to fall (tools.sizing.band); the pool was chosen on
    # the upper end. None in plans stored before the band existed.
    vram_low_gib: float | None = None
    vram_high_gib: float | None = None
    needs_token: bool = Field(description="Gated or private: the build mounts the HF token.")
    offload: OffloadOption | None = Field(
        default=None, description="A diffusers pipeline's offload option (the worker's)."
    )
    catalog_as_of: date
    test_input: dict[str, Any] = Field(description="The smoke test's job input.")
    notes: tuple[str, ...] = Field(default=(), description="What the user must know or do.")
    # The endpoint's lifetime (tools.pipeline.lifetime): torn down by itself after `ttl_s`,
    # or after `idle_limit_s` with no requests, with a warning `warning_s` before. None in
    # plans stored before lifetimes existed (the operator's defaults then apply).
    ttl_s: int | None = None
    idle_limit_s: int | None = None
    warning_s: int | None = None
    # The GPU decision as every view shows it (tools.sizing.pick): the chart, the card, the
    # CLI and the stored deployment read this one value. None in plans stored before it.
    gpu_pick: GpuPick | None = None
    # Where it runs. For "runpod" the pool fields above say everything; for another target
    # `target_gpu` is the catalog offer chosen (its price and region), and `pool`,
    # `pool_label`, `gpu_count` and `usd_per_second` restate it, so that the budget, the
    # lifetime and every view read one set of figures whatever the target.
    target: TargetName = "runpod"
    target_gpu: TargetGpu | None = None

    @property
    def usd_per_hour(self) -> float:
        return self.usd_per_second * 3600

    def summary(self) -> str:
        """One paragraph for the approval card."""
        if self.target_gpu is not None:
            return _target_summary(self, self.target_gpu)
        what = (
            "RunPod's prebuilt vLLM image"
            if not self.worker.needs_build
            else ("a worker image built here and pushed to your registry")
        )
        idle = (
            f"{self.workers_min} worker(s) always on: "
            f"${self.usd_per_hour * self.workers_min:.2f}/h even when idle"
            if self.workers_min
            else "nothing while idle (workers scale to zero)"
        )
        offload = f" Sized for {OFFLOAD_WORDS[self.offload]}." if self.offload else ""
        pick = self.gpu_pick
        why = (
            f" {pick.capacity_note[0].upper()}{pick.capacity_note[1:]}."
            if pick and pick.capacity_note
            else ""
        )
        text = (
            f"{self.worker.repo_id} on {self.gpu_count} x {self.pool_name}, "
            f"{what}. A running worker costs ${self.usd_per_second:.5f}/s "
            f"(${self.usd_per_hour:.2f}/h); up to {self.workers_max} worker(s); "
            f"{self.idle_timeout_s} s idle timeout; {idle}.{offload}{why}"
        )
        return " ".join((text, *self.notes))

    @property
    def pool_name(self) -> str:
        """The pool's one display name (`tools.sizing.pool_label`), also for plans stored
        before `pool_label` held it; another target's offer label)."""
        if self.target_gpu is not None:
            return self.target_gpu.label
        return self.gpu_pick.pool_label or self.pool if self.gpu_pick else pool_label(self.pool)


def _target_summary(plan: DeploymentPlan, offer: TargetGpu) -> str:
    """The approval card's paragraph for a plan on another target: its offer, price per
    replica and where the price comes from."""
    what = {
        "cloudrun": "a worker image built here and pushed to Artifact Registry",
        "sagemaker": "a worker image built here and pushed to ECR in your AWS account"
        if plan.worker.needs_build
        else "Hugging Face's LLM serving container (TGI) for SageMaker",
    }.get(plan.target, f"Hugging Face's serving image for {plan.worker.task}")
    idle = (
        f"{plan.workers_min} replica(s) always on: "
        f"${plan.usd_per_hour * plan.workers_min:.2f}/h even when idle"
        if plan.workers_min
        else "nothing while idle (scales to zero)"
    )
    text = (
        f"{plan.worker.repo_id} on {TARGET_TITLES[plan.target]}: {offer.label}, {what}. "
        f"A running replica costs ${plan.usd_per_hour:.2f}/h "
        f"(price: {offer.source}); up to {plan.workers_max} replica(s); {idle}."
    )
    return " ".join((text, *plan.notes))


def _option(choice: GpuChoice, gpu: str) -> GpuOption:
    """The option the plan takes: the choice's best (the cheapest that fits and has
    capacity) for "auto", else the pool the user named, if it fits."""
    choice_options, best, message = choice.options, choice.best, choice.message
    if not choice_options or best is None:
        raise PlanError(f"the model does not fit any RunPod GPU: {message}")
    if gpu == "auto":
        return best
    for option in choice_options:
        if option.pool_id == gpu.upper():
            return option
    fitting = ", ".join(o.pool_id for o in choice_options)
    raise PlanError(f"the model does not fit {gpu}; pools that fit: {fitting}")


def _choose(
    estimate: VramEstimate, requirements: ModelRequirements, catalog: GpuCatalog | None,
    gpu: str, max_gpus: int,
) -> GpuChoice:  # fmt: skip
    """`choose_gpu` within the user's GPU limit.

    Raises:
        PlanError: The model (on the pool the user named) fits only on more GPUs than their
            limit allows: says so, and how to lift it.
    """
    choice = choose_gpu(estimate, requirements=requirements, catalog=catalog, max_gpus=max_gpus)
    wanted = [o for o in choice.options if gpu == "auto" or o.pool_id == gpu.upper()]
    if wanted:
        return choice
    wider = choose_gpu(estimate, requirements=requirements, catalog=catalog)
    over = [o for o in wider.options if gpu == "auto" or o.pool_id == gpu.upper()]
    if not over:
        return choice  # not the limit's doing: `_option` says why
    raise PlanError(
        f"{over[0].pool_id} needs {over[0].gpu_count} GPUs per worker for this model and your "
        f"limit is {max_gpus}: choose a pool with more memory, a smaller dtype or a quantized "
        "variant, or ask an admin to raise the limit (`kriptik admin limits set USER "
        "--max-gpus N`)"
    )


async def _catalog(services: PipelineServices, user_id: str) -> GpuCatalog | None:
    """The live catalog (pools and prices), or None to use the packaged table."""
    try:
        # With availability: a pool with no card in stock is passed over (and the card
        # says so), rather than chosen for its price and left waiting for a worker.
        gpus = await (await services.runpod(user_id)).gpu_types(availability=True)
        return catalog_from_runpod(gpus, as_of=services.clock().date())
    except (ProviderError, SizingError):
        return None


async def plan_deployment(
    services: PipelineServices, user_id: str, request: DeployRequest
) -> DeploymentPlan:
    """Inspect, size, choose a pool (or, for another target, a catalog offer: see
    `tools.pipeline.target_pick`) and decide the worker; creates nothing.

    Raises:
        PlanError: The model cannot be deployed as asked (the message says why and what to do).
        CredentialNotFound: The user has no key for the target (RunPod's, or the target's
            own: `target_pick.TargetKeyMissing`).
    """
    if request.workers_min > request.workers_max:
        raise PlanError("workers_min cannot exceed workers_max")
    limits = await services.limits(user_id)  # the user's caps (vault.limits)
    if request.workers_max > limits.max_workers:
        raise PlanError(
            f"you asked for {request.workers_max} workers and your limit is "
            f"{limits.max_workers} per endpoint: ask for {limits.max_workers} or fewer, or "
            "ask an admin to raise it (`kriptik admin limits set USER --max-workers N`)"
        )
    if request.workflow_id is not None:
        plan = await _workflow_plan(services, user_id, request, limits.max_gpus)
        return _with_lifetime(services, request, plan)
    requirements = await _inspect(services, user_id, request)
    arch = requirements.architecture
    context = request.context_tokens or min(
        (arch.max_context if arch and arch.max_context else _DEFAULT_CONTEXT), _DEFAULT_CONTEXT
    )
    if request.target == "runpod":
        plan = await _runpod_plan(
            services, user_id, request, requirements, context, limits.max_gpus
        )
    else:
        plan = await _target_plan(
            services, user_id, request, requirements, context, limits.max_gpus
        )
    return _with_lifetime(services, request, plan)


def _with_lifetime(
    services: PipelineServices, request: DeployRequest, plan: DeploymentPlan
) -> DeploymentPlan:
    settings = services.settings
    return plan.model_copy(
        update={"ttl_s": request.ttl_s or settings.endpoint_ttl_s,
                "idle_limit_s": settings.endpoint_idle_limit_s,
                "warning_s": settings.expiry_warning_s}
    )  # fmt: skip


async def _workflow_plan(
    services: PipelineServices, user_id: str, request: DeployRequest, max_gpus: int
) -> DeploymentPlan:
    """A ComfyUI workflow on RunPod: its analysis sized as a diffusers pipeline, on the
    cheapest pool that holds it (`tools.pipeline.comfy_plan`)."""
    if request.target != "runpod":
        raise PlanError("ComfyUI workflows deploy to RunPod serverless only, for now")
    workflow_id = request.workflow_id or ""
    analysis = await comfy_plan.workflow_analysis(services, user_id, workflow_id)
    try:
        comfy = worker_of(analysis)
        requirements = comfy_requirements(analysis)
        estimate = estimate_workflow(analysis, requirements=requirements)
        catalog = await _catalog(services, user_id)
        choice = _choose(estimate, requirements, catalog, request.gpu, max_gpus)
        estimate = choice.estimate or estimate
        option = _option(choice, request.gpu)
        pick = pick_gpu(estimate, choice, catalog=catalog, option=option)
        worker = plan_comfy_worker(comfy, requirements, weights=request.weights)
    except (SizingError, UnsafeValue, WorkflowError) as err:
        raise PlanError(str(err)) from None
    notes = (resident_note(analysis, choice.offload),)
    # `_plan` takes the smoke test's input from the worker: the workflow's own defaults.
    return _plan(request, worker, option, pick, choice, requirements.gated, notes)


async def _runpod_plan(
    services: PipelineServices, user_id: str, request: DeployRequest,
    requirements: ModelRequirements, context: int, max_gpus: int,
) -> DeploymentPlan:  # fmt: skip
    """The RunPod serverless plan: the cheapest pool that fits (or the one named)."""
    arch = requirements.architecture
    try:
        estimate = estimate_vram(requirements, request.dtype, context)
        catalog = await _catalog(services, user_id)
        choice = _choose(estimate, requirements, catalog, request.gpu, max_gpus)
        estimate = choice.estimate or estimate  # with model CPU offload, when only that fits
        option = _option(choice, request.gpu)
        pick = pick_gpu(estimate, choice, catalog=catalog, option=option)
        worker = plan_worker(
            requirements,
            dtype=request.dtype,
            gpu_count=option.gpu_count,
            max_model_len=context if arch and arch.generative else None,
            weights=request.weights,
            cpu_offload=choice.offload == "model",
        )
    except (SizingError, UnsafeValue) as err:
        raise PlanError(str(err)) from None
    needs_token = requirements.gated or await _private(services, user_id, worker)
    notes = _notes(services, worker, needs_token)
    return _plan(request, worker, option, pick, choice, needs_token, notes)


async def _target_plan(
    services: PipelineServices, user_id: str, request: DeployRequest,
    requirements: ModelRequirements, context: int, max_gpus: int,
) -> DeploymentPlan:  # fmt: skip
    """The plan on another target: the cheapest offer of its catalog that holds the model
    (`tools.pipeline.target_pick`)."""
    target = await target_pick.target_for(services, user_id, request.target)
    offers = await target_pick.target_offers(target, user_id)
    arch = requirements.architecture
    max_len = context if arch and arch.generative else None
    try:
        estimate = estimate_vram(requirements, request.dtype, context)
        worker, offer, split = _target_offer(
            offers,
            estimate,
            requirements,
            request,
            max_len,
            max_gpus,
            own_image=request.target == "cloudrun",
        )
        needs_token = requirements.gated or await _private(services, user_id, worker)
        if request.target == "sagemaker" and needs_token and not worker.needs_build:
            # Hugging Face's LLM container would need the user's token in the endpoint's
            # settings; our own image bakes the weights with it as a build secret instead.
            worker, offer, split = _target_offer(
                offers, estimate, requirements, request, max_len, max_gpus, own_image=True
            )
    except (SizingError, UnsafeValue) as err:
        raise PlanError(str(err)) from None
    workers_min = request.workers_min
    notes = target_pick.target_notes(
        request.target, request.idle_timeout_s, needs_token, always_on=workers_min
    )
    if request.target == "sagemaker":
        notes += target_pick.quota_notes(offers, offer, estimate, split)
    gib = 1 << 30
    return DeploymentPlan(
        worker=worker, pool=offer.offer_id, pool_label=offer.label, gpu_count=offer.gpu_count,
        usd_per_second=offer.usd_per_hour / 3600, options=(),
        workers_min=workers_min, workers_max=request.workers_max,
        idle_timeout_s=request.idle_timeout_s,
        min_cuda=None,  # the target places the container on hosts of its own choosing
        required_gib=round(estimate.total_bytes / gib, 1),
        vram_low_gib=round(estimate.band.low_bytes / gib, 1),
        vram_high_gib=round(estimate.gpu_fit_bytes / gib, 1),
        needs_token=needs_token, catalog_as_of=services.clock().date(),
        test_input=target_pick.target_test_input(request.target, worker),
        notes=notes, target=request.target, target_gpu=offer,
    )  # fmt: skip


def _target_offer(
    offers: list[TargetGpu], estimate: VramEstimate, requirements: ModelRequirements,
    request: DeployRequest, max_len: int | None, max_gpus: int, *, own_image: bool,
) -> tuple[WorkerPlan, TargetGpu, bool]:  # fmt: skip
    """The worker, the cheapest offer that holds it, and whether the model is split over
    the offer's GPUs (only a model that vLLM or TGI serves is)."""
    worker = _target_worker(requirements, request, max_len, 1, own_image=own_image)
    split = worker.kind == "vllm" and estimate.basis == "transformer"
    offer = target_pick.pick_offer(
        offers, estimate, target=request.target, region=request.region, gpu=request.gpu,
        max_gpus=max_gpus, split=split,
    )  # fmt: skip
    if offer.gpu_count > 1:
        worker = _target_worker(requirements, request, max_len, offer.gpu_count,
                                own_image=own_image)  # fmt: skip
    return worker, offer, split


def _target_worker(
    requirements: ModelRequirements, request: DeployRequest, max_len: int | None, gpus: int,
    *, own_image: bool,
) -> WorkerPlan:  # fmt: skip
    # `own_image`: the generated transformers worker even for a text model that RunPod's
    # prebuilt vLLM image (or SageMaker's LLM container) would serve: Cloud Run runs only
    # our own image. SageMaker has no network volume: its weights are always baked in.
    weights = "baked" if request.target == "sagemaker" else request.weights
    return plan_worker(
        requirements, dtype=request.dtype, gpu_count=gpus, max_model_len=max_len,
        weights=weights, prebuilt=not own_image,
    )  # fmt: skip


async def _inspect(
    services: PipelineServices, user_id: str, request: DeployRequest
) -> ModelRequirements:
    """The model's requirements from the Hub (and, when gated, proof the user may read it)."""
    hub = await services.hub(user_id)
    try:
        requirements = await inspect_model(
            SizingHubReader(hub), request.repo_id, revision=request.revision
        )
        if requirements.gated:
            await hub.auth_check(requirements.repo_id or request.repo_id)
    except (GatedRepo, AuthError):
        raise PlanError(
            f"{request.repo_id} is gated: open https://huggingface.co/{request.repo_id}, accept "
            "the licence while logged in, and make sure KripTik has that account's Hugging Face "
            "token (`kriptik keys add huggingface`)"
        ) from None
    except SizingError as err:
        raise PlanError(str(err)) from None
    except ProviderError as err:
        raise PlanError(f"Hugging Face could not be checked: {err}") from None
    return requirements


def _notes(services: PipelineServices, worker: WorkerPlan, needs_token: bool) -> tuple[str, ...]:
    if needs_token and not worker.needs_build:
        # The vLLM worker reads the token at start from a RunPod secret; we only reference it.
        return (
            f"The model is gated: before deploying, create a RunPod secret named "
            f"{services.hf_secret_name} holding your Hugging Face token (RunPod console > "
            "Secrets); the endpoint only refers to it.",
        )
    return ()


def _plan(
    request: DeployRequest, worker: WorkerPlan, option: GpuOption, pick: GpuPick,
    choice: GpuChoice, needs_token: bool, notes: tuple[str, ...],
) -> DeploymentPlan:  # fmt: skip
    # `pick` was made from `option`: the pool, its name, count and price are the same ones.
    return DeploymentPlan(
        worker=worker,
        pool=option.pool_id,
        pool_label=pick.pool_label or option.pool_id,
        gpu_count=option.gpu_count,
        usd_per_second=option.usd_per_second,
        options=tuple(
            PoolOption(
                pool_id=o.pool_id,
                label=o.label,
                memory_gb=o.memory_gb,
                gpu_count=o.gpu_count,
                usd_per_second=o.usd_per_second,
            )
            for o in choice.options
        ),
        workers_min=request.workers_min,
        workers_max=request.workers_max,
        idle_timeout_s=request.idle_timeout_s,
        # The image's CUDA floor (base-image table): RunPod places workers on no older host.
        min_cuda=worker.min_cuda,
        required_gib=pick.need_gib,  # the pick's figures, as the chart draws them
        vram_low_gib=pick.low_gib,
        vram_high_gib=pick.high_gib,
        needs_token=needs_token,
        offload=choice.offload,
        notes=notes,
        catalog_as_of=choice.catalog_as_of,
        test_input=sample_input(worker) if worker.needs_build else _VLLM_SMOKE,
        gpu_pick=pick,
    )


async def _private(services: PipelineServices, user_id: str, worker: WorkerPlan) -> bool:
    """A private repo also needs the token at build time (the Hub hid it from anonymous
    callers, so if we could read it, it was with the user's token)."""
    hub = await services.hub(user_id)
    info = await hub.model_info(worker.repo_id, revision=worker.revision)
    return bool(info.private)
