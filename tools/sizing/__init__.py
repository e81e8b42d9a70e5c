"""Model sizing: inspect a Hugging Face model, estimate its peak VRAM, choose and price a
RunPod serverless GPU. No pydantic-ai here: the agent layer wraps these functions and turns
`SizingError` into `ModelRetry`."""

from tools.sizing.activations import AttentionImpl
from tools.sizing.band import VramBand, band_for
from tools.sizing.catalog import (
    GpuCatalog,
    GpuPool,
    GpuType,
    catalog_from_runpod,
    load_catalog,
    pool_label,
)
from tools.sizing.choose import (
    GpuChoice,
    GpuOption,
    capacity_note,
    choose_gpu,
    per_gpu_bytes,
    per_gpu_fit_bytes,
)
from tools.sizing.config import parse_architecture
from tools.sizing.diffusion import OFFLOAD_WORDS, DiffusionSizing, OffloadOption
from tools.sizing.dtypes import SERVE_DTYPES, ServeDtype, parse_dtype
from tools.sizing.errors import (
    ContextTooLongError,
    GatedRepoError,
    HubAuthError,
    HubUnavailableError,
    InvalidBatchError,
    InvalidContextError,
    InvalidOptionError,
    MalformedConfigError,
    NoWeightsError,
    SizingError,
    UnknownDtypeError,
    UnknownRepoError,
)
from tools.sizing.hub import HubReader
from tools.sizing.inspect import inspect_model
from tools.sizing.offline import requirements_from_config
from tools.sizing.params import ParamBreakdown, count_parameters
from tools.sizing.pick import GpuPick, PoolRow, pick_gpu
from tools.sizing.pricing import PriceQuote, price_quote
from tools.sizing.requirements import (
    Architecture,
    CardVramFigure,
    ComponentWeights,
    ModelRequirements,
    Quantization,
)
from tools.sizing.vram import CUDA_CONTEXT_BYTES, VramEstimate, estimate_vram, weights_bytes_at

__all__ = [
    "CUDA_CONTEXT_BYTES",
    "OFFLOAD_WORDS",
    "SERVE_DTYPES",
    "Architecture",
    "AttentionImpl",
    "CardVramFigure",
    "ComponentWeights",
    "ContextTooLongError",
    "DiffusionSizing",
    "GatedRepoError",
    "GpuCatalog",
    "GpuChoice",
    "GpuOption",
    "GpuPick",
    "GpuPool",
    "GpuType",
    "HubAuthError",
    "HubReader",
    "HubUnavailableError",
    "InvalidBatchError",
    "InvalidContextError",
    "InvalidOptionError",
    "MalformedConfigError",
    "ModelRequirements",
    "NoWeightsError",
    "OffloadOption",
    "ParamBreakdown",
    "PoolRow",
    "PriceQuote",
    "Quantization",
    "ServeDtype",
    "SizingError",
    "UnknownDtypeError",
    "UnknownRepoError",
    "VramBand",
    "VramEstimate",
    "band_for",
    "capacity_note",
    "catalog_from_runpod",
    "choose_gpu",
    "count_parameters",
    "estimate_vram",
    "inspect_model",
    "load_catalog",
    "parse_architecture",
    "parse_dtype",
    "per_gpu_bytes",
    "per_gpu_fit_bytes",
    "pick_gpu",
    "pool_label",
    "price_quote",
    "requirements_from_config",
    "weights_bytes_at",
]
