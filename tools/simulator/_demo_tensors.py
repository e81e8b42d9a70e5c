"""Tensor lists of the transformer families the demo Hub serves (decoder LLMs, BERT,
Nomic BERT, Whisper, CLIP, T5), named and shaped as each model's published checkpoint
stores them, so a safetensors header built from them reads like the real one.

Each builder takes the model's own config.json (as published) and a safetensors dtype
tag; only the tensors a checkpoint really holds are listed (tied embeddings once).
"""

from __future__ import annotations

from typing import Any

from tools.simulator.hub_model import Tensor

__all__ = [
    "bert_tensors", "clip_text_tensors", "clip_vision_tensors", "decoder_tensors",
    "linear", "mistral_consolidated_tensors", "nomic_bert_tensors", "norm", "t5_encoder_tensors",
    "whisper_tensors",
]  # fmt: skip


def linear(name: str, out: int, inp: int, dtype: str, *, bias: bool = True) -> list[Tensor]:
    """A torch `Linear(inp, out)`: weight (out, inp) and, when it has one, its bias."""
    weight = Tensor(f"{name}.weight", dtype, (out, inp))
    return [weight, Tensor(f"{name}.bias", dtype, (out,))] if bias else [weight]


def norm(name: str, dim: int, dtype: str, *, bias: bool = True) -> list[Tensor]:
    """A LayerNorm / GroupNorm (weight and bias) or an RMSNorm (weight only)."""
    weight = Tensor(f"{name}.weight", dtype, (dim,))
    return [weight, Tensor(f"{name}.bias", dtype, (dim,))] if bias else [weight]


def decoder_tensors(config: dict[str, Any], dtype: str, *, qkv_bias: bool = False) -> list[Tensor]:
    """A Llama-family decoder (Llama, Mistral, Qwen2), in transformers' naming and in the
    order `save_pretrained` writes it. Qwen2 has biases on q, k and v (`qkv_bias`)."""
    h, inter, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or h // heads
    q, kv = heads * head_dim, kv_heads * head_dim
    out = [Tensor("model.embed_tokens.weight", dtype, (vocab, h))]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}"
        out += [
            *linear(f"{p}.self_attn.q_proj", q, h, dtype, bias=qkv_bias),
            *linear(f"{p}.self_attn.k_proj", kv, h, dtype, bias=qkv_bias),
            *linear(f"{p}.self_attn.v_proj", kv, h, dtype, bias=qkv_bias),
            *linear(f"{p}.self_attn.o_proj", h, q, dtype, bias=False),
            *linear(f"{p}.mlp.gate_proj", inter, h, dtype, bias=False),
            *linear(f"{p}.mlp.up_proj", inter, h, dtype, bias=False),
            *linear(f"{p}.mlp.down_proj", h, inter, dtype, bias=False),
            *norm(f"{p}.input_layernorm", h, dtype, bias=False),
            *norm(f"{p}.post_attention_layernorm", h, dtype, bias=False),
        ]
    out += norm("model.norm", h, dtype, bias=False)
    if not config.get("tie_word_embeddings"):
        out.append(Tensor("lm_head.weight", dtype, (vocab, h)))
    return out


def mistral_consolidated_tensors(config: dict[str, Any], dtype: str) -> list[Tensor]:
    """The same decoder in Mistral's own naming (`consolidated.safetensors`, for
    mistral-inference): the repo's second copy of the weights."""
    renames = {
        "model.embed_tokens": "tok_embeddings", "model.norm": "norm", "lm_head": "output",
        "self_attn.q_proj": "attention.wq", "self_attn.k_proj": "attention.wk",
        "self_attn.v_proj": "attention.wv", "self_attn.o_proj": "attention.wo",
        "mlp.gate_proj": "feed_forward.w1", "mlp.down_proj": "feed_forward.w2",
        "mlp.up_proj": "feed_forward.w3", "input_layernorm": "attention_norm",
        "post_attention_layernorm": "ffn_norm", "model.layers": "layers",
    }  # fmt: skip
    out: list[Tensor] = []
    for t in decoder_tensors(config, dtype):
        name = t.name
        for old, new in renames.items():
            name = name.replace(old, new)
        out.append(Tensor(name, t.dtype, t.shape))
    return out


def _encoder_layer(p: str, h: int, inter: int, dtype: str) -> list[Tensor]:
    """One post-norm BERT encoder layer."""
    return [
        *linear(f"{p}.attention.self.query", h, h, dtype),
        *linear(f"{p}.attention.self.key", h, h, dtype),
        *linear(f"{p}.attention.self.value", h, h, dtype),
        *linear(f"{p}.attention.output.dense", h, h, dtype),
        *norm(f"{p}.attention.output.LayerNorm", h, dtype),
        *linear(f"{p}.intermediate.dense", inter, h, dtype),
        *linear(f"{p}.output.dense", h, inter, dtype),
        *norm(f"{p}.output.LayerNorm", h, dtype),
    ]


def bert_tensors(config: dict[str, Any], dtype: str) -> list[Tensor]:
    """A `BertModel` (embeddings, encoder, pooler), as sentence-transformers repos store it."""
    h, inter = config["hidden_size"], config["intermediate_size"]
    out = [
        Tensor("embeddings.word_embeddings.weight", dtype, (config["vocab_size"], h)),
        Tensor(
            "embeddings.position_embeddings.weight", dtype, (config["max_position_embeddings"], h)
        ),
        Tensor("embeddings.token_type_embeddings.weight", dtype, (config["type_vocab_size"], h)),
        *norm("embeddings.LayerNorm", h, dtype),
    ]
    for i in range(config["num_hidden_layers"]):
        out += _encoder_layer(f"encoder.layer.{i}", h, inter, dtype)
    return out + linear("pooler.dense", h, h, dtype)


def nomic_bert_tensors(config: dict[str, Any], dtype: str) -> list[Tensor]:
    """Nomic's `NomicBertModel` (its own modelling code): fused Wqkv, SwiGLU MLP without
    biases, rotary positions (so no position table), vocab padded to a multiple of 64."""
    h, inter, mult = config["n_embd"], config["n_inner"], config["pad_vocab_size_multiple"]
    vocab = -(-config["vocab_size"] // mult) * mult
    out = [
        Tensor("embeddings.word_embeddings.weight", dtype, (vocab, h)),
        Tensor("embeddings.token_type_embeddings.weight", dtype, (config["type_vocab_size"], h)),
        *norm("emb_ln", h, dtype),
    ]
    for i in range(config["n_layer"]):
        p = f"encoder.layers.{i}"
        out += [
            *linear(f"{p}.attn.Wqkv", 3 * h, h, dtype, bias=False),
            *linear(f"{p}.attn.out_proj", h, h, dtype, bias=False),
            *linear(f"{p}.mlp.fc11", inter, h, dtype, bias=False),
            *linear(f"{p}.mlp.fc12", inter, h, dtype, bias=False),
            *linear(f"{p}.mlp.fc2", h, inter, dtype, bias=False),
            *norm(f"{p}.norm1", h, dtype),
            *norm(f"{p}.norm2", h, dtype),
        ]
    return out


def _whisper_attention(p: str, d: int, dtype: str) -> list[Tensor]:
    # Whisper's k_proj has no bias; q, v and out do.
    return [
        *linear(f"{p}.k_proj", d, d, dtype, bias=False), *linear(f"{p}.v_proj", d, d, dtype),
        *linear(f"{p}.q_proj", d, d, dtype), *linear(f"{p}.out_proj", d, d, dtype),
    ]  # fmt: skip


def whisper_tensors(config: dict[str, Any], dtype: str) -> list[Tensor]:
    """`WhisperForConditionalGeneration`: conv front end, encoder, decoder; `proj_out` is
    tied to the decoder's token embedding, so it is not stored."""
    d, mels = config["d_model"], config["num_mel_bins"]
    enc_ffn, dec_ffn = config["encoder_ffn_dim"], config["decoder_ffn_dim"]
    out = [
        Tensor("model.encoder.conv1.weight", dtype, (d, mels, 3)), Tensor("model.encoder.conv1.bias", dtype, (d,)),
        Tensor("model.encoder.conv2.weight", dtype, (d, d, 3)), Tensor("model.encoder.conv2.bias", dtype, (d,)),
        Tensor("model.encoder.embed_positions.weight", dtype, (config["max_source_positions"], d)),
    ]  # fmt: skip
    for i in range(config["encoder_layers"]):
        p = f"model.encoder.layers.{i}"
        out += [
            *_whisper_attention(f"{p}.self_attn", d, dtype), *norm(f"{p}.self_attn_layer_norm", d, dtype),
            *linear(f"{p}.fc1", enc_ffn, d, dtype), *linear(f"{p}.fc2", d, enc_ffn, dtype),
            *norm(f"{p}.final_layer_norm", d, dtype),
        ]  # fmt: skip
    out += norm("model.encoder.layer_norm", d, dtype)
    out += [
        Tensor("model.decoder.embed_tokens.weight", dtype, (config["vocab_size"], d)),
        Tensor("model.decoder.embed_positions.weight", dtype, (config["max_target_positions"], d)),
    ]
    for i in range(config["decoder_layers"]):
        p = f"model.decoder.layers.{i}"
        out += [
            *_whisper_attention(f"{p}.self_attn", d, dtype), *norm(f"{p}.self_attn_layer_norm", d, dtype),
            *_whisper_attention(f"{p}.encoder_attn", d, dtype),
            *norm(f"{p}.encoder_attn_layer_norm", d, dtype),
            *linear(f"{p}.fc1", dec_ffn, d, dtype), *linear(f"{p}.fc2", d, dec_ffn, dtype),
            *norm(f"{p}.final_layer_norm", d, dtype),
        ]  # fmt: skip
    return out + norm("model.decoder.layer_norm", d, dtype)


def _clip_layers(prefix: str, h: int, inter: int, layers: int, dtype: str) -> list[Tensor]:
    out: list[Tensor] = []
    for i in range(layers):
        p = f"{prefix}.encoder.layers.{i}"
        out += [
            *linear(f"{p}.self_attn.k_proj", h, h, dtype), *linear(f"{p}.self_attn.v_proj", h, h, dtype),
            *linear(f"{p}.self_attn.q_proj", h, h, dtype), *linear(f"{p}.self_attn.out_proj", h, h, dtype),
            *norm(f"{p}.layer_norm1", h, dtype), *linear(f"{p}.mlp.fc1", inter, h, dtype),
            *linear(f"{p}.mlp.fc2", h, inter, dtype), *norm(f"{p}.layer_norm2", h, dtype),
        ]  # fmt: skip
    return out


def clip_text_tensors(
    config: dict[str, Any], dtype: str, *, projection: bool = False
) -> list[Tensor]:
    """A CLIP text tower (`CLIPTextModel`; `CLIPTextModelWithProjection` adds the
    projection), with `config` the text config."""
    h, inter = config["hidden_size"], config["intermediate_size"]
    out = [
        Tensor("text_model.embeddings.token_embedding.weight", dtype, (config["vocab_size"], h)),
        Tensor("text_model.embeddings.position_embedding.weight", dtype, (config["max_position_embeddings"], h)),
        *_clip_layers("text_model", h, inter, config["num_hidden_layers"], dtype),
        *norm("text_model.final_layer_norm", h, dtype),
    ]  # fmt: skip
    if projection:
        out += linear("text_projection", config["projection_dim"], h, dtype, bias=False)
    return out


def clip_vision_tensors(config: dict[str, Any], dtype: str) -> list[Tensor]:
    """A CLIP vision tower (`vision_model.*`), with `config` the vision config."""
    h, patch, size = config["hidden_size"], config["patch_size"], config["image_size"]
    positions = (size // patch) ** 2 + 1
    return [
        Tensor("vision_model.embeddings.class_embedding", dtype, (h,)),
        Tensor("vision_model.embeddings.patch_embedding.weight", dtype, (h, 3, patch, patch)),
        Tensor("vision_model.embeddings.position_embedding.weight", dtype, (positions, h)),
        *norm("vision_model.pre_layrnorm", h, dtype),  # sic: transformers' own spelling
        *_clip_layers("vision_model", h, config["intermediate_size"], config["num_hidden_layers"], dtype),
        *norm("vision_model.post_layernorm", h, dtype),
    ]  # fmt: skip


def t5_encoder_tensors(config: dict[str, Any], dtype: str) -> list[Tensor]:
    """`T5EncoderModel` with gated-GELU feed-forward (T5 v1.1); the relative position
    bias lives in the first block only, and the norms have no bias."""
    d, inner, ff = config["d_model"], config["num_heads"] * config["d_kv"], config["d_ff"]
    out = [Tensor("shared.weight", dtype, (config["vocab_size"], d))]
    for i in range(config["num_layers"]):
        p = f"encoder.block.{i}.layer"
        attn = [linear(f"{p}.0.SelfAttention.{n}", inner, d, dtype, bias=False) for n in "qkv"]
        out += [t for part in attn for t in part]
        out += linear(f"{p}.0.SelfAttention.o", d, inner, dtype, bias=False)
        if i == 0:
            buckets = config["relative_attention_num_buckets"]
            out.append(
                Tensor(f"{p}.0.SelfAttention.relative_attention_bias.weight", dtype,
                       (buckets, config["num_heads"]))
            )  # fmt: skip
        out += [
            *norm(f"{p}.0.layer_norm", d, dtype, bias=False),
            *linear(f"{p}.1.DenseReluDense.wi_0", ff, d, dtype, bias=False),
            *linear(f"{p}.1.DenseReluDense.wi_1", ff, d, dtype, bias=False),
            *linear(f"{p}.1.DenseReluDense.wo", d, ff, dtype, bias=False),
            *norm(f"{p}.1.layer_norm", d, dtype, bias=False),
        ]
    return out + norm("encoder.final_layer_norm", d, dtype, bias=False)
