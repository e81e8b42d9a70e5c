"""What a workflow loads and needs: model files (loaders, known sources, the Hub's sizes)
and custom-node packages (core list, registry lookup)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from huggingface_hub import constants as hf_constants
from pydantic import JsonValue

from tests.comfy.fixtures import CUSTOM_LORA, FLUX, SDXL, fixture_bytes
from tools.clients.errors import NotFound
from tools.clients.huggingface import HuggingFaceClient
from tools.comfy.loaders import find_models
from tools.comfy.model import ApiNode, ModelFile, NodePackage, Workflow
from tools.comfy.resolve import (
    FileInfo,
    core_class_types,
    custom_class_types,
    parse_model_source,
    resolve_models,
    resolve_packages,
)
from tools.simulator.hf_repos import HubFile, HubRepo
from tools.simulator.huggingface import HuggingFaceFake
from tools.simulator.server import serve

LINK: JsonValue = ["1", 0]


def _workflow(nodes: dict[str, tuple[str, dict[str, JsonValue]]]) -> Workflow:
    return Workflow(
        name="test",
        nodes={k: ApiNode(class_type=c, inputs=i) for k, (c, i) in nodes.items()},
        source_format="api",
        digest="0" * 64,
    )


def _fixture(name: str) -> Workflow:
    raw: dict[str, Any] = json.loads(fixture_bytes(name))
    return _workflow({k: (v["class_type"], v["inputs"]) for k, v in raw.items()})


def _found(workflow: Workflow) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(m.folder, m.filename, m.node_ids) for m in find_models(workflow)]


# ---- loaders ------------------------------------------------------------------------------
def test_core_loaders_name_their_folders_and_merge_nodes_that_load_one_file() -> None:
    workflow = _workflow({
        "1": ("UNETLoader", {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}),
        "2": ("DualCLIPLoader", {"clip_name1": "t5xxl_fp16.safetensors",
                                 "clip_name2": "clip_l.safetensors", "type": "flux"}),
        "3": ("VAELoader", {"vae_name": "ae.safetensors"}),
        "4": ("LoraLoader", {"model": LINK, "clip": LINK, "lora_name": "style.safetensors"}),
        "5": ("LoraLoaderModelOnly", {"model": LINK, "lora_name": "style.safetensors"}),
        "6": ("ControlNetLoader", {"control_net_name": "canny.safetensors"}),
        "7": ("UpscaleModelLoader", {"model_name": "4x-UltraSharp.pth"}),
        "8": ("KSampler", {"model": LINK, "seed": 1, "sampler_name": "euler"}),
        "9": ("CheckpointLoaderSimple", {"ckpt_name": LINK}),  # a linked name loads nothing here
    })  # fmt: skip
    assert _found(workflow) == [
        ("diffusion_models", "flux1-dev.safetensors", ("1",)),
        ("text_encoders", "t5xxl_fp16.safetensors", ("2",)),
        ("text_encoders", "clip_l.safetensors", ("2",)),
        ("vae", "ae.safetensors", ("3",)),
        ("loras", "style.safetensors", ("4", "5")),
        ("controlnet", "canny.safetensors", ("6",)),
        ("upscale_models", "4x-UltraSharp.pth", ("7",)),
    ]
    assert find_models(workflow)[4].class_type == "LoraLoader"


def test_vae_names_that_are_no_vae_file() -> None:
    workflow = _workflow({
        "1": ("VAELoader", {"vae_name": "pixel_space"}),
        "2": ("VAELoader", {"vae_name": "taesdxl"}),
    })  # fmt: skip
    assert _found(workflow) == [
        ("vae_approx", "taesdxl_encoder.pth", ("2",)),
        ("vae_approx", "taesdxl_decoder.pth", ("2",)),
    ]


def test_custom_loaders_and_their_value_shapes() -> None:
    workflow = _workflow({
        "1": ("UnetLoaderGGUF", {"unet_name": "flux1-dev-Q4_K_S.gguf"}),
        "2": ("LoraLoader|pysssss", {"lora_name": {"content": "a.safetensors", "image": None}}),
        "3": ("Power Lora Loader (rgthree)", {
            "PowerLoraLoaderHeaderWidget": {"type": "PowerLoraLoaderHeaderWidget"},
            "lora_1": {"on": True, "lora": "b.safetensors", "strength": 1},
            "lora_2": {"on": False, "lora": "off.safetensors", "strength": 1},
            "\u2795 Add Lora": "",  # the widget rgthree adds (a heavy plus sign)
        }),
        "4": ("Lora Loader Stack (rgthree)", {"lora_01": "None", "lora_02": "c.safetensors"}),
        "5": ("IPAdapterModelLoader", {"ipadapter_file": "ip-adapter_sdxl.safetensors"}),
        "6": ("NunchakuFluxDiTLoader", {"model_path": "svdq-int4-flux.1-dev"}),
    })  # fmt: skip
    assert _found(workflow) == [
        ("diffusion_models", "flux1-dev-Q4_K_S.gguf", ("1",)),
        ("loras", "a.safetensors", ("2",)),
        ("loras", "b.safetensors", ("3",)),
        ("loras", "c.safetensors", ("4",)),
        ("ipadapter", "ip-adapter_sdxl.safetensors", ("5",)),
        ("diffusion_models", "svdq-int4-flux.1-dev", ("6",)),
    ]


def test_an_unknown_node_holding_a_model_file_name_loads_it_from_other() -> None:
    workflow = _workflow({
        "1": ("SAMLoader", {"model_name": "sam_vit_b_01ec64.pth", "device_mode": "AUTO"}),
        "2": ("SaveImage", {"images": LINK, "filename_prefix": "ComfyUI"}),
        "3": ("LoadImage", {"image": "example.png"}),
    })  # fmt: skip
    assert _found(workflow) == [("other", "sam_vit_b_01ec64.pth", ("1",))]


def test_the_fixtures_models() -> None:
    assert _found(_fixture(SDXL)) == [("checkpoints", "sd_xl_base_1.0.safetensors", ("4",))]
    assert _found(_fixture(FLUX)) == [("checkpoints", "flux1-schnell-fp8.safetensors", ("30",))]
    assert [(f, n) for f, n, _ in _found(_fixture(CUSTOM_LORA))] == [
        ("vae", "ae.safetensors"),
        ("text_encoders", "t5xxl_fp16.safetensors"),
        ("text_encoders", "clip_l.safetensors"),
        ("diffusion_models", "svdq-int4-flux.1-dev"),
        ("loras", "flux.1-turbo-alpha.safetensors"),
        ("loras", "flux.1-dev-ghibsky.safetensors"),
    ]


# ---- model sources ------------------------------------------------------------------------
class FakeSizes:
    """`FileSizes` over a dict: (repo, path, revision) -> info; records what was asked."""

    def __init__(self, files: dict[tuple[str, str], FileInfo]) -> None:
        self.files = files
        self.asked: list[tuple[str, str, str]] = []

    async def file_info(self, repo_id: str, path: str, revision: str) -> FileInfo | None:
        self.asked.append((repo_id, path, revision))
        return self.files.get((repo_id, path))


def _model(filename: str, folder: Any = "checkpoints") -> ModelFile:
    return ModelFile(filename=filename, folder=folder, node_ids=("1",), class_type="X")


async def test_known_files_get_their_source_and_size() -> None:
    sizes = FakeSizes({
        ("stabilityai/stable-diffusion-xl-base-1.0", "sd_xl_base_1.0.safetensors"):
            FileInfo(size_bytes=6_938_078_334),
        ("black-forest-labs/FLUX.1-dev", "flux1-dev.safetensors"):
            FileInfo(size_bytes=23_802_932_552, gated=True),
    })  # fmt: skip
    sdxl, flux = await resolve_models(
        [_model("SDXL/sd_xl_base_1.0.safetensors"), _model("flux1-dev.safetensors", "unet")],
        sizes=sizes,
    )
    assert sdxl.source is not None and sdxl.note == ""
    assert (sdxl.source.repo_id, sdxl.source.size_bytes) == (
        "stabilityai/stable-diffusion-xl-base-1.0", 6_938_078_334,
    )  # fmt: skip
    assert sdxl.source.how.startswith("ComfyUI-Manager model list")
    assert sdxl.filename == "SDXL/sd_xl_base_1.0.safetensors"  # kept as the workflow names it
    assert flux.source is not None and flux.source.gated
    assert "accept its licence at https://huggingface.co/black-forest-labs/FLUX.1-dev" in flux.note
    assert sizes.asked[1] == ("black-forest-labs/FLUX.1-dev", "flux1-dev.safetensors", "main")


async def test_unknown_missing_and_ambiguous_files_are_left_for_the_user() -> None:
    unknown, missing, ambiguous = await resolve_models(
        [
            _model("my-merge-v3.safetensors"),
            _model("sdxl_vae.safetensors", "vae"),
            _model("diffusion_pytorch_model.safetensors", "diffusion_models"),
        ],
        sizes=FakeSizes({}),
    )
    assert unknown.source is None and "not in the known-model list" in unknown.note
    assert missing.source is None
    assert missing.note == (
        "stabilityai/sdxl-vae/sdxl_vae.safetensors at main is not on the Hugging Face Hub"
    )
    assert ambiguous.source is None and "several known files" in ambiguous.note


async def test_a_users_source_wins_and_a_bad_one_says_how_to_write_it() -> None:
    sizes = FakeSizes({("me/loras", "styles/ghibsky.safetensors"): FileInfo(size_bytes=10)})
    given, by_url, bad = await resolve_models(
        [
            _model("flux.1-dev-ghibsky.safetensors", "loras"),
            _model("sd_xl_base_1.0.safetensors"),
            _model("x.safetensors", "loras"),
        ],
        sizes=sizes,
        overrides={
            "flux.1-dev-ghibsky.safetensors": "me/loras/styles/ghibsky.safetensors",
            "sd_xl_base_1.0.safetensors": "https://huggingface.co/me/loras/resolve/v2/"
            "styles/ghibsky.safetensors?download=true",
            "x.safetensors": "just-a-name.safetensors",
        },
    )
    assert given.source is not None and given.source.how == "the user"
    assert given.source.size_bytes == 10
    assert by_url.source is not None and by_url.source.revision == "v2"
    assert sizes.asked[1] == ("me/loras", "styles/ghibsky.safetensors", "v2")
    assert bad.source is None and "owner/repo/path/in/repo" in bad.note


def test_parse_model_source_refuses_what_is_no_hub_file() -> None:
    assert parse_model_source("owner/repo") is None
    assert parse_model_source("owner/repo/../x.safetensors") is None
    assert parse_model_source("bad--owner/repo/x.safetensors") is None
    source = parse_model_source("Comfy-Org/flux1-dev/flux1-dev-fp8.safetensors")
    assert source is not None and source.url == (
        "https://huggingface.co/Comfy-Org/flux1-dev/resolve/main/flux1-dev-fp8.safetensors"
    )


async def test_a_custom_loaders_file_is_found_by_its_unique_name() -> None:
    sizes = FakeSizes({("Kim2091/UltraSharp", "4x-UltraSharp.pth"): FileInfo(size_bytes=66)})
    (found,) = await resolve_models([_model("4x-UltraSharp.pth", "other")], sizes=sizes)
    assert found.source is not None and found.source.repo_id == "Kim2091/UltraSharp"
    assert found.folder == "other"


# ---- sizes from the Hub, through the real Hugging Face client and the Hub fake ------------
class HubSizes:
    """`FileSizes` over `HuggingFaceClient.model_info` (the repo's file list with sizes)."""

    def __init__(self, client: HuggingFaceClient) -> None:
        self.client = client

    async def file_info(self, repo_id: str, path: str, revision: str) -> FileInfo | None:
        try:
            info = await self.client.model_info(repo_id, revision=revision)
        except NotFound:
            return None
        sizes = {s.rfilename: s.size for s in info.siblings or []}
        if path not in sizes:
            return None
        return FileInfo(size_bytes=sizes[path], gated=bool(info.gated))


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HuggingFaceFake, str]]:
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    fake = HuggingFaceFake()
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


async def test_sizes_come_from_the_hub(
    hub: tuple[HuggingFaceFake, str], http: httpx.AsyncClient
) -> None:
    fake, url = hub
    fake.add_repo(
        HubRepo("stabilityai/stable-diffusion-xl-base-1.0").add(
            HubFile.blob("sd_xl_base_1.0.safetensors", 6_938_078_334)
        )
    )
    gated = HubRepo("black-forest-labs/FLUX.1-dev", gated="auto")
    fake.add_repo(gated.add(HubFile.blob("flux1-dev.safetensors", 23_802_932_552)))
    sizes = HubSizes(HuggingFaceClient(http=http, base_url=url, token=None))
    sdxl, flux, vae = await resolve_models(
        [
            _model("sd_xl_base_1.0.safetensors"),
            _model("flux1-dev.safetensors", "diffusion_models"),
            _model("sdxl_vae.safetensors", "vae"),  # its repo is not on this Hub
        ],
        sizes=sizes,
    )
    assert sdxl.source is not None and sdxl.source.size_bytes == 6_938_078_334
    assert flux.source is not None and flux.source.gated
    assert flux.source.size_bytes == 23_802_932_552
    assert vae.source is None and "is not on the Hugging Face Hub" in vae.note
    assert not fake.violations


# ---- custom nodes -------------------------------------------------------------------------
def test_core_nodes_are_not_custom() -> None:
    core = core_class_types()
    assert {"KSampler", "CLIPTextEncode", "EmptySD3LatentImage", "UNETLoader"} <= core
    assert {"TripleCLIPLoader", "UpscaleModelLoader", "CreateHookLora"} <= core
    assert custom_class_types(_fixture(SDXL)) == ()
    assert custom_class_types(_fixture(FLUX)) == ()
    assert custom_class_types(_fixture(CUSTOM_LORA)) == (
        "NunchakuFluxDiTLoader", "NunchakuFluxLoraLoader", "NunchakuTextEncoderLoader",
    )  # fmt: skip


class FakeRegistry:
    """`NodeLookup` over a dict, counting lookups."""

    def __init__(self, packs: dict[str, NodePackage]) -> None:
        self.packs = packs
        self.asked: list[str] = []

    async def package_for(self, class_type: str) -> NodePackage | None:
        self.asked.append(class_type)
        return self.packs.get(class_type)


async def test_packages_group_the_workflows_classes_and_list_the_unknown() -> None:
    kj = NodePackage(
        package_id="comfyui-kjnodes",
        repo_url="https://github.com/kijai/ComfyUI-KJNodes",
        class_types=("GetImageSizeAndCount",),  # what the lookup answered for, not the pack
        version="1.5.2",
    )
    rg = NodePackage(
        package_id="rgthree-comfy", repo_url="https://github.com/rgthree/rgthree-comfy",
        class_types=("Seed (rgthree)",),
    )  # fmt: skip
    registry = FakeRegistry({"ImageResizeKJv2": kj, "GetImageSizeAndCount": kj,
                             "Seed (rgthree)": rg})  # fmt: skip
    packages, unknown = await resolve_packages(
        ["Seed (rgthree)", "ImageResizeKJv2", "GetImageSizeAndCount", "Mystery", "Seed (rgthree)"],
        registry=registry,
    )
    assert [(p.package_id, p.class_types, p.version) for p in packages] == [
        ("comfyui-kjnodes", ("GetImageSizeAndCount", "ImageResizeKJv2"), "1.5.2"),
        ("rgthree-comfy", ("Seed (rgthree)",), None),
    ]
    assert unknown == ("Mystery",)
    assert sorted(registry.asked) == ["GetImageSizeAndCount", "ImageResizeKJv2", "Mystery",
                                      "Seed (rgthree)"]  # fmt: skip
