"""Tiny random-weight models for the workload tests, written with `save_pretrained` into a
local folder by the workload venv's own transformers (nothing is downloaded).

`build_model(kind, directory, **options)` runs `_BUILDERS` below with that venv's python.
Kinds: causal-lm (Llama), bert (BertModel, optional sentence-transformers pooling files),
bert-classifier (BertForSequenceClassification), whisper (WhisperForConditionalGeneration
with its processor).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.workloads.harness import require_python

__all__ = ["WORDS", "build_model"]

# The tokenizers' whole vocabulary (word level), so a test can use only these words.
WORDS = "the a cat dog sat on mat sun sea sky red blue runs fast slow hello world".split()

_BUILDERS = r"""
import json, sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

torch.manual_seed(0)
kind, out, options = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
words = options["words"]
out.mkdir(parents=True, exist_ok=True)


def word_tokenizer(specials, post=None):
    vocab = {t: i for i, t in enumerate([*specials, *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if post:
        tok.post_processor = post(vocab)
    return tok, len(vocab)


def causal_lm():
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tok, size = word_tokenizer(["[UNK]", "[PAD]", "[EOS]"])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    config = LlamaConfig(
        vocab_size=size, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
        pad_token_id=1, eos_token_id=2, bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    # Never stop early on a random EOS: the test asks for exactly max_new_tokens.
    model.generation_config = GenerationConfig(pad_token_id=1, eos_token_id=None)
    return model, fast


def bert_tokenizer():
    def post(vocab):
        return processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )

    tok, size = word_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], post)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=64,
    )
    return fast, size


def bert_config(size, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=size, hidden_size=options.get("hidden", 16), num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64, **extra,
    )


def bert():
    from transformers import BertModel

    fast, size = bert_tokenizer()
    return BertModel(bert_config(size)), fast


def bert_classifier():
    from transformers import BertForSequenceClassification

    fast, size = bert_tokenizer()
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    config = bert_config(size, id2label=labels, label2id={v: k for k, v in labels.items()})
    return BertForSequenceClassification(config), fast


def whisper():
    from transformers import (
        WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration,
        WhisperProcessor, WhisperTokenizerFast,
    )

    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>",
                "<|translate|>", "<|notimestamps|>", "<|nocaptions|>", "<|startofprev|>"]
    tok, size = word_tokenizer(specials)
    tok.save(str(out / "tokenizer.json"))
    fast = WhisperTokenizerFast(
        tokenizer_file=str(out / "tokenizer.json"), unk_token="<|endoftext|>",
        bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>",
    )
    ids = {t: fast.convert_tokens_to_ids(t) for t in specials}
    config = WhisperConfig(
        vocab_size=size, num_mel_bins=80, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_source_positions=1500, max_target_positions=32,
        pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"], decoder_start_token_id=ids["<|startoftranscript|>"],
        begin_suppress_tokens=None, suppress_tokens=None,
    )
    model = WhisperForConditionalGeneration(config)
    model.generation_config.max_length = 12
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=80), fast)
    return model, processor


model, tokenizer = {"causal-lm": causal_lm, "bert": bert, "bert-classifier": bert_classifier,
                    "whisper": whisper}[kind]()
model.save_pretrained(out)
tokenizer.save_pretrained(out)
print(json.dumps({"hidden_size": model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.d_model}))
"""


def build_model(kind: str, directory: Path, **options: Any) -> dict[str, Any]:
    """Write a tiny random-weight model of `kind` into `directory`; returns facts about it
    (its `hidden_size`). Options: `hidden` (BERT's hidden size)."""
    python = require_python()
    done = subprocess.run(
        [str(python), "-c", _BUILDERS, kind, str(directory), json.dumps({"words": WORDS} | options)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory.parent), "HF_HUB_OFFLINE": "1",
             "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"building the tiny {kind} model failed:\n{done.stderr[-4000:]}")
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return facts
