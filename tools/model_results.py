"""The sizing and workflow tools' typed results: plain data, no pydantic-ai (the UI's events
carry them)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tools.sizing import GpuPick

__all__ = ["GpuPlan", "ModelSummary", "VramSummary", "WorkflowReport"]


# No class docstrings: a return schema's description is model-facing text, and these
# models moved here unchanged.


class ModelSummary(BaseModel):  # inspect_model: what a Hugging Face repo needs
    repo_id: str
    # The model never passes the revision back (the plan pins it, the endpoint's card shows
    # it), so it is not part of what the model reads.
    sha: str | None = Field(default=None, exclude=True)
    library: str | None
    task: str | None
    model_type: str | None
    parameters_billion: float | None
    weights_gb: float
    weight_format: str
    quantization: str
    gated: bool
    license: str | None
    trust_remote_code: bool
    max_context: int | None
    card_states_vram_gb: float | None
    notes: list[str]


class VramSummary(BaseModel):  # estimate_vram: the peak GPU memory (GB) and where it goes
    dtype: str
    context_tokens: int
    batch: int
    total_gb: float
    # Where the real peak is expected to fall (tools.sizing.band); GPUs are chosen on the
    # upper end.
    band_low_gb: float
    band_high_gb: float
    weights_gb: float
    kv_cache_gb: float
    activations_gb: float
    overhead_gb: float
    basis: str


class GpuPlan(BaseModel):  # choose_gpu: the cheapest pool and GPU count that hold it, priced
    fits: bool
    message: str
    estimate_gb: float
    required_gb: float  # the upper end of the estimate's band: what the GPU was chosen for
    pool: str | None
    gpu_count: int | None
    usd_per_hour_running: float | None
    usd_per_request: float | None
    usd_per_hour_always_on: float | None
    alternatives: list[str]
    max_context_that_fits: int | None
    prices_as_of: str
    # The same pick, as the chart draws it (tools.sizing.pick). Excluded from what the model
    # reads: it is for the UI's `GpuChoice` event, and the message above already says it.
    pick: GpuPick | None = Field(default=None, exclude=True)


class WorkflowReport(BaseModel):
    """What a workflow needs, as the model reads it (the chat shows it as a card)."""

    workflow_id: str
    name: str
    deploy_as: str  # create_runpod_endpoint's repo_id for this workflow
    models: list[str]
    custom_nodes: list[str]
    inputs: list[str]
    output: str
    vram_gib: float | None = None
    gpu: str | None = None
    usd_per_hour: float | None = None
    resident: str | None = None
    node_list_as_of: str | None = None  # the date of the registry answers used
    ask_user: list[str]  # each must be answered (inspect_workflow's answers) before deploying
