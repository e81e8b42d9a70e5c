#!/usr/bin/env python3
"""Trace the activation peaks of diffusers pipelines' components on the meta device.

    <workload venv>/bin/python benchmarks/vram/diffusion_trace.py [--out PATH]

Needs torch, diffusers and transformers (the workload venv of `scripts/install-workload-env.sh`),
no GPU and no network: each component is built from its published config.json (the demo
Hub's copies in `tools/simulator/demo_hub/`, or the library's defaults where noted) on the
meta device, and one forward pass runs at full size under a `TorchDispatchMode` that keeps
the bytes of every storage created since the pass began and still referenced: its high-water
mark is the pass's activation peak, as the CUDA caching allocator would see it allocated
(weights excluded: they exist before the pass).

What the meta device cannot show, and how the estimate covers it (tools/sizing/diffusion.py):
kernel workspaces (cuDNN convolution and cuBLAS scratch), and the allocator's rounding and
fragmentation. SDPA is traced as the CUDA flash kernel (the efficient kernel for fp32 or
head_dim > 256), because on meta torch falls back to the math kernel, which materializes the
score matrix that no CUDA run allocates.

Writes the JSON fixture of `tests/sizing/test_diffusion.py` (default
tests/sizing/fixtures/diffusion_traced.json).
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import diffusers
import torch
import transformers
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / "tools" / "simulator" / "demo_hub"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"
FLUX = "black-forest-labs/FLUX.1-dev"
# Wan2.1-T2V-1.3B-Diffusers transformer/config.json: the fields that differ from
# WanTransformer3DModel's defaults (the defaults are the 14B model's).
WAN_13B = {"num_attention_heads": 12, "ffn_dim": 8960, "num_layers": 30}
MIB = 1 << 20


class LiveBytes(TorchDispatchMode):
    """Bytes of the storages created under this mode that are still referenced, and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.bytes = 0
        self.peak = 0
        self.peak_op = ""
        self.peak_module = ""
        self.modules: list[str] = []
        self.shapes: dict[int, str] = {}
        self.peak_live: list[str] = []

    def _sweep(self) -> None:
        for key, (ref, size) in list(self.live.items()):
            if ref.expired():
                del self.live[key]
                self.bytes -= size

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self._sweep()
        # An output that shares an input's storage (a view, an in-place op) allocated
        # nothing: it is counted already, or it is a weight (e.g. `weight.t()`).
        inputs = {
            StorageWeakRef(t.untyped_storage()).cdata
            for t in tree_flatten((args, kwargs))[0]
            if isinstance(t, torch.Tensor)
        }
        out = func(*args, **(kwargs or {}))
        self._sweep()
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                ref = StorageWeakRef(storage)
                if ref.cdata not in self.live and ref.cdata not in inputs:
                    self.live[ref.cdata] = (ref, storage.nbytes())
                    self.bytes += storage.nbytes()
                    where = self.modules[-1] if self.modules else ""
                    self.shapes[ref.cdata] = f"{tuple(t.shape)} {t.dtype} {where} {func}"
        if self.bytes > self.peak:
            self.peak_live = [
                f"{self.live[k][1] / MIB:.1f} MiB {self.shapes.get(k)}" for k in self.live
            ]
            self.peak, self.peak_op = self.bytes, str(func)
            self.peak_module = self.modules[-1] if self.modules else ""
        return out


def _hooks(model: torch.nn.Module, mode: LiveBytes) -> None:
    def enter(name: str) -> None:
        mode.modules.append(name)

    def leave() -> None:  # returns None: a forward hook's return value replaces the output
        mode.modules.pop()

    for name, module in model.named_modules():
        module.register_forward_pre_hook(lambda *_, n=name: enter(n))
        module.register_forward_hook(lambda *_: leave())


def _sdpa(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
):
    """SDPA as CUDA runs it: flash for 16-bit with head_dim <= 256, else memory-efficient."""
    if (
        query.dtype in (torch.float16, torch.bfloat16)
        and query.shape[-1] <= 256
        and attn_mask is None
    ):
        out = torch.ops.aten._scaled_dot_product_flash_attention(
            query, key, value, 0.0, is_causal, scale=scale
        )
        return out[0]
    out = torch.ops.aten._scaled_dot_product_efficient_attention(
        query, key, value, attn_mask, False, 0.0, is_causal, scale=scale
    )
    return out[0]


@contextmanager
def _flash_sdpa() -> Iterator[None]:
    original = torch.nn.functional.scaled_dot_product_attention
    torch.nn.functional.scaled_dot_product_attention = _sdpa
    try:
        yield
    finally:
        torch.nn.functional.scaled_dot_product_attention = original


def _config(repo: str, path: str) -> dict[str, Any]:
    return json.loads((HUB / repo / path).read_text(encoding="utf-8"))


def _build(cls: Any, config: dict[str, Any], dtype: torch.dtype) -> torch.nn.Module:
    with torch.device("meta"):
        model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
    return model.to(dtype).eval()


def _trace(
    model: torch.nn.Module,
    inputs: Callable[[], dict[str, Any]],
    call: Callable[[torch.nn.Module, dict[str, Any]], object],
) -> LiveBytes:
    mode = LiveBytes()
    _hooks(model, mode)
    with torch.no_grad(), _flash_sdpa(), torch.device("meta"), mode:
        kwargs = inputs()  # created under the mode: the pass's inputs count as activations
        result = call(model, kwargs)
        del result, kwargs
    return mode


def _forward(model: torch.nn.Module, kwargs: dict[str, Any]) -> object:
    return model(**kwargs)


def _decode(model: torch.nn.Module, kwargs: dict[str, Any]) -> object:
    return model.decode(kwargs["z"]).sample  # type: ignore[operator]


def sdxl_unet(h: int, w: int, batch: int, dtype: torch.dtype) -> LiveBytes:
    model = _build(diffusers.UNet2DConditionModel, _config(SDXL, "unet/config.json"), dtype)
    return _trace(
        model,
        lambda: {
            "sample": torch.empty(batch, 4, h // 8, w // 8, dtype=dtype),
            "timestep": torch.empty(batch, dtype=torch.float32),
            "encoder_hidden_states": torch.empty(batch, 77, 2048, dtype=dtype),
            "added_cond_kwargs": {
                "text_embeds": torch.empty(batch, 1280, dtype=dtype),
                "time_ids": torch.empty(batch, 6, dtype=dtype),
            },
        },
        _forward,
    )


def flux_transformer(h: int, w: int, batch: int, dtype: torch.dtype) -> LiveBytes:
    model = _build(
        diffusers.FluxTransformer2DModel, _config(FLUX, "transformer/config.json"), dtype
    )
    tokens = (h // 16) * (w // 16)
    return _trace(
        model,
        lambda: {
            "hidden_states": torch.empty(batch, tokens, 64, dtype=dtype),
            "encoder_hidden_states": torch.empty(batch, 512, 4096, dtype=dtype),
            "pooled_projections": torch.empty(batch, 768, dtype=dtype),
            "timestep": torch.empty(batch, dtype=dtype),
            "guidance": torch.empty(batch, dtype=torch.float32),
            "img_ids": torch.empty(tokens, 3, dtype=dtype),
            "txt_ids": torch.empty(512, 3, dtype=dtype),
            "return_dict": False,
        },
        _forward,
    )


def vae_decode(repo: str, h: int, w: int, dtype: torch.dtype) -> LiveBytes:
    config = _config(repo, "vae/config.json")
    model = _build(diffusers.AutoencoderKL, config, dtype)
    latent = config["latent_channels"]
    return _trace(
        model, lambda: {"z": torch.empty(1, latent, h // 8, w // 8, dtype=dtype)}, _decode
    )


def text_encoder(
    repo: str, folder: str, cls: Any, tokens: int, dtype: torch.dtype, *, hidden_states: bool
) -> LiveBytes:
    """`hidden_states`: whether the pipeline asks for every layer's output (SDXL reads the
    penultimate CLIP layer; Flux and Wan read only the last)."""
    config = cls.config_class.from_dict(_config(repo, f"{folder}/config.json"))
    config._attn_implementation = "sdpa"
    model = _build(cls, config, dtype)
    return _trace(
        model,
        lambda: {
            "input_ids": torch.zeros(1, tokens, dtype=torch.long),
            "output_hidden_states": hidden_states,
        },
        _forward,
    )


def wan_transformer(h: int, w: int, frames: int, batch: int, dtype: torch.dtype) -> LiveBytes:
    model = _build(diffusers.WanTransformer3DModel, WAN_13B, dtype)
    latent_frames = (frames - 1) // 4 + 1
    return _trace(
        model,
        lambda: {
            "hidden_states": torch.empty(batch, 16, latent_frames, h // 8, w // 8, dtype=dtype),
            "timestep": torch.empty(batch, dtype=torch.long),
            "encoder_hidden_states": torch.empty(batch, 512, 4096, dtype=dtype),
            "return_dict": False,
        },
        _forward,
    )


def wan_vae_decode(h: int, w: int, frames: int, dtype: torch.dtype) -> LiveBytes:
    model = _build(diffusers.AutoencoderKLWan, {}, dtype)
    latent_frames = (frames - 1) // 4 + 1
    return _trace(
        model,
        lambda: {"z": torch.empty(1, 16, latent_frames, h // 8, w // 8, dtype=dtype)},
        _decode,
    )


def _cases() -> list[tuple[dict[str, Any], Callable[[], LiveBytes]]]:
    bf16, fp16, fp32 = torch.bfloat16, torch.float16, torch.float32
    clip, clip_proj, t5 = (
        transformers.CLIPTextModel,
        transformers.CLIPTextModelWithProjection,
        transformers.T5EncoderModel,
    )
    cases: list[tuple[dict[str, Any], Callable[[], LiveBytes]]] = []
    for h, w in ((1024, 1024), (768, 768), (1024, 1536)):
        cases += [
            (
                {
                    "repo": SDXL,
                    "component": "unet",
                    "phase": "denoise",
                    "height": h,
                    "width": w,
                    "batch": 2,
                    "dtype": "fp16",
                },
                lambda h=h, w=w: sdxl_unet(h, w, 2, fp16),
            ),
            (
                {
                    "repo": SDXL,
                    "component": "vae",
                    "phase": "decode",
                    "height": h,
                    "width": w,
                    "batch": 1,
                    "dtype": "fp32",
                },
                lambda h=h, w=w: vae_decode(SDXL, h, w, fp32),
            ),
            (
                {
                    "repo": FLUX,
                    "component": "transformer",
                    "phase": "denoise",
                    "height": h,
                    "width": w,
                    "batch": 1,
                    "dtype": "bf16",
                },
                lambda h=h, w=w: flux_transformer(h, w, 1, bf16),
            ),
            (
                {
                    "repo": FLUX,
                    "component": "vae",
                    "phase": "decode",
                    "height": h,
                    "width": w,
                    "batch": 1,
                    "dtype": "bf16",
                },
                lambda h=h, w=w: vae_decode(FLUX, h, w, bf16),
            ),
        ]
    cases += [
        # The scenario of diffusers' own benchmark (benchmarks/benchmarking_sdxl.py): batch 1, bf16.
        (
            {
                "repo": SDXL,
                "component": "unet",
                "phase": "denoise",
                "height": 1024,
                "width": 1024,
                "batch": 1,
                "dtype": "bf16",
            },
            lambda: sdxl_unet(1024, 1024, 1, bf16),
        ),
        (
            {
                "repo": SDXL,
                "component": "vae",
                "phase": "decode",
                "height": 1024,
                "width": 1024,
                "batch": 1,
                "dtype": "bf16",
            },
            lambda: vae_decode(SDXL, 1024, 1024, bf16),
        ),
        (
            {
                "repo": FLUX,
                "component": "transformer",
                "phase": "denoise",
                "height": 1024,
                "width": 1024,
                "batch": 2,
                "dtype": "bf16",
            },
            lambda: flux_transformer(1024, 1024, 2, bf16),
        ),
        (
            {
                "repo": SDXL,
                "component": "text_encoder",
                "phase": "encode",
                "tokens": 77,
                "batch": 1,
                "dtype": "fp16",
            },
            lambda: text_encoder(SDXL, "text_encoder", clip, 77, fp16, hidden_states=True),
        ),
        (
            {
                "repo": SDXL,
                "component": "text_encoder_2",
                "phase": "encode",
                "tokens": 77,
                "batch": 1,
                "dtype": "fp16",
            },
            lambda: text_encoder(SDXL, "text_encoder_2", clip_proj, 77, fp16, hidden_states=True),
        ),
        (
            {
                "repo": FLUX,
                "component": "text_encoder",
                "phase": "encode",
                "tokens": 77,
                "batch": 1,
                "dtype": "bf16",
            },
            lambda: text_encoder(FLUX, "text_encoder", clip, 77, bf16, hidden_states=False),
        ),
        (
            {
                "repo": FLUX,
                "component": "text_encoder_2",
                "phase": "encode",
                "tokens": 512,
                "batch": 1,
                "dtype": "bf16",
            },
            lambda: text_encoder(FLUX, "text_encoder_2", t5, 512, bf16, hidden_states=False),
        ),
        (
            {
                "repo": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
                "component": "transformer",
                "phase": "denoise",
                "height": 480,
                "width": 832,
                "frames": 81,
                "batch": 1,
                "dtype": "bf16",
            },
            lambda: wan_transformer(480, 832, 81, 1, bf16),
        ),
        (
            {
                "repo": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
                "component": "vae",
                "phase": "decode",
                "height": 480,
                "width": 832,
                "frames": 81,
                "batch": 1,
                "dtype": "bf16",
            },
            lambda: wan_vae_decode(480, 832, 81, bf16),
        ),
        (
            {
                "repo": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
                "component": "vae",
                "phase": "decode",
                "height": 480,
                "width": 832,
                "frames": 33,
                "batch": 1,
                "dtype": "bf16",
            },
            lambda: wan_vae_decode(480, 832, 33, bf16),
        ),
    ]
    return cases


def _public(config: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(config).items() if not k.startswith("_")}


def _wan_configs() -> dict[str, dict[str, Any]]:
    """Wan2.1-T2V-1.3B's configs in full: the library's defaults with the 1.3B's values."""
    with torch.device("meta"):
        transformer = diffusers.WanTransformer3DModel.from_config(WAN_13B)
        vae = diffusers.AutoencoderKLWan.from_config({})
    return {
        "transformer": _public(transformer.config) | {"_class_name": "WanTransformer3DModel"},
        "vae": _public(vae.config) | {"_class_name": "AutoencoderKLWan"},
    }


def _sources(case: dict[str, Any], wan: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Where the traced component's config and its pipeline's VAE config come from: the
    demo Hub's published copies, or (Wan) the full configs inline."""
    if case["repo"].startswith("Wan-AI/"):
        return {"config": wan[case["component"]], "vae_config": wan["vae"]}
    base = f"tools/simulator/demo_hub/{case['repo']}"
    return {
        "config": f"{base}/{case['component']}/config.json",
        "vae_config": f"{base}/vae/config.json",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "tests" / "sizing" / "fixtures" / "diffusion_traced.json"
    )
    parser.add_argument("--only", help="substring of repo/component to run")
    parser.add_argument("--live", action="store_true", help="print the live tensors at each peak")
    args = parser.parse_args()
    rows = []
    wan = _wan_configs()
    for case, run in _cases():
        if args.only and args.only not in f"{case['repo']}/{case['component']}":
            continue
        mode = run()
        row = (
            case
            | _sources(case, wan)
            | {
                "peak_bytes": mode.peak,
                "peak_mib": round(mode.peak / MIB, 1),
                "peak_op": mode.peak_op,
                "peak_module": mode.peak_module,
            }
        )
        print(json.dumps(row), flush=True)
        if args.live:
            print("\n".join(mode.peak_live))
        rows.append(row)
    versions = {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }
    doc = {
        "what": "activation peak (bytes allocated by one forward pass, weights excluded) of "
        "each component, traced on the meta device by benchmarks/vram/diffusion_trace.py; "
        "SDPA as the CUDA flash/efficient kernel; no kernel workspaces",
        "versions": versions,
        "rows": rows,
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
