"""`ModelRequirements`: everything sizing needs to know about a model, and where each figure
came from. Built by `inspect_model` (from the Hub) or `requirements_from_config` (offline)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Architecture",
    "CardVramFigure",
    "ComponentWeights",
    "LayerKind",
    "ModelRequirements",
    "QuantMethod",
    "Quantization",
    "WeightFormat",
]

LayerKind = Literal["full", "sliding"]
QuantMethod = Literal[
    "none", "awq", "gptq", "fp8", "bnb-4bit", "bnb-8bit", "gguf", "mxfp4", "compressed-tensors",
    "other",
]  # fmt: skip
WeightFormat = Literal["safetensors", "pytorch", "gguf", "onnx", "other", "none"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Architecture(_Frozen):
    """The shape of a transformer, as read from config.json (text part for multimodal)."""

    model_type: str
    architectures: tuple[str, ...] = ()
    generative: bool = Field(description="Decoder that generates tokens (so it has a KV cache).")
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    v_head_dim: int
    vocab_size: int
    max_context: int | None = Field(description="max_position_embeddings (or equivalent).")
    sliding_window: int | None = None
    layer_kinds: tuple[LayerKind, ...] = Field(description="Attention kind per layer.")
    tie_word_embeddings: bool
    fused_gate_up: bool = Field(description="One gate_up projection (phi3): bigger MLP peak.")
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    static_cache: bool = Field(
        default=False,
        description="generate() pre-allocates a static cache (`cache_implementation`: static).",
    )
    checkpoint_dtype_bytes: int | None = Field(
        default=None, description="Element size of config `torch_dtype`/`dtype`, if stated."
    )

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.head_dim

    @property
    def kv_elements_per_token_layer(self) -> int:
        """K plus V elements one token adds to one layer's cache."""
        return self.num_kv_heads * (self.head_dim + self.v_head_dim)

    @property
    def sliding_layers(self) -> int:
        return sum(1 for kind in self.layer_kinds if kind == "sliding")

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0


class Quantization(_Frozen):
    """How the checkpoint is quantized, if at all."""

    method: QuantMethod = "none"
    bits: int | None = None
    group_size: int | None = None
    source: str = "none found"


class ComponentWeights(_Frozen):
    """Weights of one component of a diffusers pipeline or a custom-code repo."""

    name: str
    files: tuple[str, ...]
    bytes: int
    format: WeightFormat
    dtype_tag: str = Field(description="Storage dtype, from a variant suffix or a guess.")
    dtype_guessed: bool
    class_name: str | None = Field(
        default=None, description="Its class in model_index.json, e.g. UNet2DConditionModel."
    )
    parameters_by_dtype: dict[str, int] = Field(
        default_factory=dict, description="Element counts per dtype, from its safetensors headers."
    )
    largest_tensor_params: int | None = Field(
        default=None, description="Elements of its largest tensor (sequential offload's unit)."
    )
    config: dict[str, Any] | None = Field(default=None, description="Its config.json.")


class CardVramFigure(_Frozen):
    """A VRAM requirement stated in the model card. Only the number is kept, never the text."""

    bytes: int
    kind: Literal["minimum", "recommended", "stated"]
    line: int = Field(description="1-based line of README.md where the figure appears.")


class ModelRequirements(_Frozen):
    """What a model needs, with the origin of every figure in `sources`."""

    repo_id: str | None = None
    revision: str | None = None
    sha: str | None = None
    library: str | None = None
    pipeline_tag: str | None = None
    architecture: Architecture | None = None
    parameters_by_dtype: dict[str, int] = Field(
        default_factory=dict,
        description="Element counts per safetensors dtype tag (packed ints count storage).",
    )
    parameter_count: int | None = Field(default=None, description="Best count of parameters.")
    weights_bytes: int = Field(description="Checkpoint storage of the chosen weight files.")
    weight_format: WeightFormat = "none"
    weight_files: tuple[str, ...] = ()
    quantization: Quantization = Quantization()
    gated: bool = False
    license: str | None = None
    trust_remote_code: bool = False
    download_bytes: int | None = Field(
        default=None, description="What from_pretrained downloads: chosen weights + small files."
    )
    repo_bytes: int | None = Field(default=None, description="Every file in the repo.")
    components: tuple[ComponentWeights, ...] = ()
    pipeline_class: str | None = Field(
        default=None, description="A diffusers pipeline's class (model_index.json _class_name)."
    )
    card_vram: tuple[CardVramFigure, ...] = ()
    card_vram_bytes: int | None = Field(
        default=None, description="Largest VRAM figure the model card states."
    )
    sources: dict[str, str] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()
