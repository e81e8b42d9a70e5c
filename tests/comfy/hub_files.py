"""The Hugging Face side of the fixtures: the files they load at their published sizes, what
a user supplies for the files no list knows, and Hub repos (for `HuggingFaceFake`) holding
exactly the files that resolution looks up."""

from __future__ import annotations

from typing import Final

from tests.comfy.fixtures import fixture_bytes
from tools.comfy.loaders import find_models
from tools.comfy.parse import parse_workflow
from tools.comfy.resolve import FileInfo, resolve_models
from tools.simulator.hub_model import HubFile, HubRepo

__all__ = ["SIZES", "SUPPLIED", "hub_repos"]

# Published sizes of the files the fixtures load (bytes), as their Hub pages list them.
SIZES: Final = {
    "sd_xl_base_1.0.safetensors": 6_938_078_334,
    "flux1-schnell-fp8.safetensors": 17_171_224_908,
    "ae.safetensors": 335_304_388,
    "t5xxl_fp16.safetensors": 9_787_841_024,
    "clip_l.safetensors": 246_144_152,
    "svdq-int4-flux.1-dev": 6_669_557_248,
    "flux.1-turbo-alpha.safetensors": 694_082_424,
    "flux.1-dev-ghibsky.safetensors": 612_893_792,
}
# What the user supplies for the LoRA fixture's files that no list knows.
SUPPLIED: Final = {
    "svdq-int4-flux.1-dev": "mit-han-lab/svdq-int4-flux.1-dev/transformer_blocks.safetensors",
    "flux.1-turbo-alpha.safetensors":
        "alimama-creative/FLUX.1-Turbo-Alpha/diffusion_pytorch_model.safetensors",
    "flux.1-dev-ghibsky.safetensors": "aleksa-codes/flux-ghibsky-illustration/lora.safetensors",
}  # fmt: skip


class _Anywhere:
    """Answers every lookup, to learn which repos and paths resolution asks for."""

    async def file_info(self, repo_id: str, path: str, revision: str) -> FileInfo | None:
        return FileInfo(size_bytes=1)


async def hub_repos(fixtures: list[str]) -> list[HubRepo]:
    """Repos holding every file the fixtures load (with `SUPPLIED`), at `SIZES`."""
    repos: dict[str, HubRepo] = {}
    for name in fixtures:
        models = find_models(parse_workflow(fixture_bytes(name), name=name))
        for m in await resolve_models(models, sizes=_Anywhere(), overrides=SUPPLIED):
            assert m.source is not None, m
            repo = repos.setdefault(m.source.repo_id, HubRepo(m.source.repo_id))
            repo.add(HubFile.blob(m.source.path, SIZES[m.filename]))
    return list(repos.values())
