"""The inputs a workflow exposes, its output size and its output nodes, on the real
fixtures and on small hand-made graphs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.comfy.fixtures import (
    CONTROLNET,
    CONTROLNET_UI,
    CUSTOM_LORA,
    FIXTURES,
    FLUX,
    SDXL,
    fixture_bytes,
)
from tools.comfy import (
    UserInput,
    Workflow,
    find_geometry,
    find_inputs,
    output_node_ids,
    parse_workflow,
)

SEED_MAX = 0xFFFF_FFFF_FFFF_FFFF


def _fixture(name: str) -> Workflow:
    return parse_workflow(fixture_bytes(name), name=name)


def _api(nodes: dict[str, Any]) -> Workflow:
    return parse_workflow(json.dumps(nodes))


def _by_name(workflow: Workflow) -> dict[str, UserInput]:
    return {i.name: i for i in find_inputs(workflow)}


def _where(inputs: dict[str, UserInput]) -> dict[str, tuple[str, str]]:
    return {name: (i.node_id, i.input_name) for name, i in inputs.items()}


# --- the real fixtures -------------------------------------------------------------------


def test_the_sdxl_prompt_is_the_text_that_feeds_the_samplers_positive() -> None:
    workflow = _fixture(SDXL)
    inputs = _by_name(workflow)
    assert workflow.nodes["49"].inputs["positive"] == ["6", 0]
    assert workflow.nodes["49"].inputs["negative"] == ["7", 0]
    assert _where(inputs) == {
        "prompt": ("6", "text"), "negative_prompt": ("7", "text"), "seed": ("49", "seed"),
        "steps": ("49", "steps"), "cfg": ("49", "cfg"), "width": ("5", "width"),
        "height": ("5", "height"), "batch_size": ("5", "batch_size"),
    }  # fmt: skip
    prompt = inputs["prompt"]
    assert (prompt.label, prompt.kind) == ("Prompt", "text")
    assert prompt.default == workflow.nodes["6"].inputs["text"]
    assert (
        prompt.default == "evening sunset scenery blue sky nature, glass bottle with a galaxy in it"
    )
    assert inputs["negative_prompt"].label == "Negative prompt"
    seed = inputs["seed"]
    assert (seed.label, seed.kind, seed.default, seed.minimum, seed.maximum) == (
        "Seed",
        "integer",
        0,
        0,
        SEED_MAX,
    )
    assert isinstance(seed.maximum, int)  # exact, not rounded to a float
    assert (inputs["steps"].default, inputs["steps"].minimum, inputs["steps"].maximum) == (
        20,
        1,
        10000,
    )
    assert (inputs["cfg"].kind, inputs["cfg"].default, inputs["cfg"].maximum) == ("number", 8, 100)
    assert (inputs["width"].minimum, inputs["width"].maximum) == (16, 16384)
    assert (inputs["batch_size"].minimum, inputs["batch_size"].maximum) == (1, 4096)
    assert find_geometry(workflow) == (1024, 1024, 1, None)
    assert output_node_ids(workflow) == ("19",)


def test_the_flux_schnell_inputs() -> None:
    workflow = _fixture(FLUX)
    inputs = _by_name(workflow)
    assert _where(inputs)["prompt"] == ("6", "text")
    assert _where(inputs)["negative_prompt"] == ("33", "text")
    assert inputs["seed"].default == 1030319533692526
    assert inputs["steps"].default == 4
    assert output_node_ids(workflow) == ("9",)


def test_the_custom_node_lora_prompt_is_traced_through_guidance_and_guider() -> None:
    workflow = _fixture(CUSTOM_LORA)
    inputs = _by_name(workflow)
    # SamplerCustomAdvanced 13 <- BasicGuider 22 <- FluxGuidance 26 <- CLIPTextEncode 6
    assert workflow.nodes["22"].inputs["conditioning"] == ["26", 0]
    assert workflow.nodes["26"].inputs["conditioning"] == ["6", 0]
    assert _where(inputs) == {
        "prompt": ("6", "text"), "seed": ("25", "noise_seed"), "steps": ("17", "steps"),
        "guidance": ("26", "guidance"), "width": ("27", "width"), "height": ("27", "height"),
        "batch_size": ("27", "batch_size"),
    }  # fmt: skip
    assert inputs["guidance"].default == 3.5
    assert find_geometry(workflow) == (1024, 1024, 1, None)


@pytest.mark.parametrize("name", [CONTROLNET, CONTROLNET_UI])
def test_the_controlnet_prompt_is_traced_through_the_controlnet_and_the_image_exposed(
    name: str,
) -> None:
    workflow = _fixture(name)
    inputs = _by_name(workflow)
    assert _where(inputs)["prompt"] == ("1", "text")
    assert "negative_prompt" not in inputs  # a BasicGuider takes no negative
    image = inputs["image"]
    assert (image.kind, image.node_id, image.default, image.label) == (
        "image",
        "19",
        "mushroom_depth.webp",
        "Input image",
    )
    assert find_geometry(workflow) == (800, 1200, 1, None)
    assert output_node_ids(workflow) == ("3",)


@pytest.mark.parametrize("name", FIXTURES)
def test_every_input_is_well_formed_and_its_default_in_range(name: str) -> None:
    for found in find_inputs(_fixture(name)):
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,39}", found.name)
        if found.minimum is not None and found.maximum is not None:
            assert isinstance(found.default, int | float)
            assert found.minimum <= found.default <= found.maximum


# --- hand-made graphs --------------------------------------------------------------------


def _encode(text: Any) -> dict[str, Any]:
    return {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["1", 1]}}


def _sampler(positive: str, negative: str, **values: Any) -> dict[str, Any]:
    inputs = {"seed": 5, "steps": 30, "cfg": 6.5, "denoise": 1, "model": ["1", 0],
              "positive": [positive, 0], "negative": [negative, 0], "latent_image": ["4", 0]}  # fmt: skip
    return {"class_type": "KSampler", "inputs": {**inputs, **values}}


_BASE: dict[str, Any] = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}},
    "4": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 832, "height": 1216, "batch_size": 2},
    },
}


def test_duplicates_get_suffixes_and_shared_texts_are_exposed_once() -> None:
    workflow = _api({
        **_BASE, "2": _encode("a cat"), "3": _encode("blurry"), "6": _encode("a dog"),
        "10": _sampler("2", "3"), "11": _sampler("6", "3", seed=9),
    })  # fmt: skip
    inputs = _by_name(workflow)
    assert _where(inputs) == {
        "prompt": ("2", "text"), "prompt_2": ("6", "text"), "negative_prompt": ("3", "text"),
        "seed": ("10", "seed"), "seed_2": ("11", "seed"), "steps": ("10", "steps"),
        "steps_2": ("11", "steps"), "cfg": ("10", "cfg"), "cfg_2": ("11", "cfg"),
        "width": ("4", "width"), "height": ("4", "height"), "batch_size": ("4", "batch_size"),
    }  # fmt: skip
    assert (inputs["prompt_2"].label, inputs["seed_2"].default) == ("Prompt 2", 9)
    assert find_geometry(workflow) == (832, 1216, 2, None)


def test_linked_values_are_not_exposed_and_denoise_only_below_one() -> None:
    workflow = _api({
        **_BASE, "2": {"class_type": "CLIPTextEncode", "inputs": {"text": ["7", 0], "clip": ["1", 1]}},
        "3": _encode(""), "7": {"class_type": "PrimitiveString", "inputs": {"value": "a cat"}},
        "8": {"class_type": "PrimitiveInt", "inputs": {"value": 3}},
        "10": _sampler("2", "3", seed=["8", 0], denoise=0.6),
    })  # fmt: skip
    inputs = _by_name(workflow)
    assert "prompt" not in inputs and "seed" not in inputs
    assert (inputs["denoise"].default, inputs["denoise"].minimum, inputs["denoise"].maximum) == (
        0.6,
        0,
        1,
    )


def test_the_text_behind_a_zero_out_is_not_a_negative_prompt() -> None:
    workflow = _api({
        **_BASE, "2": _encode("a cat"),
        "3": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["2", 0]}},
        "10": _sampler("2", "3"),
    })  # fmt: skip
    assert [i.name for i in find_inputs(workflow) if "prompt" in i.name] == ["prompt"]


def test_conditioning_is_traced_through_combine_controlnet_and_sdxl_encoders() -> None:
    sdxl = {
        "class_type": "CLIPTextEncodeSDXL",
        "inputs": {"text_g": "a castle", "text_l": "oil painting", "clip": ["1", 1], "width": 1024},
    }
    sampler = _sampler("7", "7")
    sampler["inputs"]["negative"] = ["7", 1]  # the ControlNet's second output
    workflow = _api({
        **_BASE, "2": sdxl, "3": _encode("ugly"), "5": _encode("at night"),
        "6": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["2", 0], "conditioning_2": ["5", 0]}},
        "7": {"class_type": "ControlNetApplyAdvanced", "inputs": {"positive": ["6", 0], "negative": ["3", 0], "strength": 1}},
        "10": sampler,
    })  # fmt: skip
    found = _where(_by_name(workflow))
    assert (found["prompt"], found["prompt_2"], found["prompt_3"]) == (
        ("2", "text_g"),
        ("2", "text_l"),
        ("5", "text"),
    )
    assert found["negative_prompt"] == ("3", "text")


def test_a_cfg_guider_and_random_noise_feed_a_custom_sampler() -> None:
    workflow = _api({
        **_BASE, "2": _encode("a cat"), "3": _encode("blurry"),
        "5": {"class_type": "CFGGuider", "inputs": {"cfg": 4.5, "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0]}},
        "6": {"class_type": "RandomNoise", "inputs": {"noise_seed": 77}},
        "7": {"class_type": "SamplerCustomAdvanced", "inputs": {"guider": ["5", 0], "noise": ["6", 0], "latent_image": ["4", 0]}},
    })  # fmt: skip
    found = _where(_by_name(workflow))
    assert (found["prompt"], found["negative_prompt"]) == (("2", "text"), ("3", "text"))
    assert (found["cfg"], found["seed"]) == (("5", "cfg"), ("6", "noise_seed"))


def test_an_unknown_sampler_still_exposes_the_encoders_texts_by_their_titles() -> None:
    negative = {**_encode("lowres"), "_meta": {"title": "Negative Prompt"}}
    workflow = _api({
        **_BASE, "2": _encode("a cat"), "3": negative,
        "10": {"class_type": "XlabsSampler", "inputs": {"conditioning": ["2", 0], "neg_conditioning": ["3", 0]}},
    })  # fmt: skip
    found = _where(_by_name(workflow))
    assert (found["prompt"], found["negative_prompt"]) == (("2", "text"), ("3", "text"))


def test_a_video_latent_gives_frames_and_images_are_found() -> None:
    workflow = _api({
        "1": {"class_type": "EmptyHunyuanLatentVideo", "inputs": {"width": 848, "height": 480, "length": 73, "batch_size": 1}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "start.png"}},
        "3": {"class_type": "LoadImage", "inputs": {"image": "end.png"}},
    })  # fmt: skip
    inputs = _by_name(workflow)
    assert (inputs["frames"].default, inputs["frames"].input_name) == (73, "length")
    assert (inputs["image"].node_id, inputs["image_2"].node_id) == ("2", "3")
    assert find_geometry(workflow) == (848, 480, 1, 73)


def test_geometry_defaults_and_prefers_the_latent_a_sampler_uses() -> None:
    assert find_geometry(
        _api({"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}}})
    ) == (1024, 1024, 1, None)
    workflow = _api({
        **_BASE, "2": _encode("a cat"), "3": _encode(""), "10": _sampler("2", "3", latent_image=["9", 0]),
        "9": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
    })  # fmt: skip
    assert find_geometry(workflow) == (512, 768, 1, None)


def test_output_nodes() -> None:
    workflow = _api({
        "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        **{str(i): {"class_type": kind, "inputs": {"images": ["1", 0]}} for i, kind in enumerate(
            ["PreviewImage", "VHS_VideoCombine", "SaveVideo", "SaveLatent", "ImageInvert", "SaveAnimatedWEBP"], start=2)},
    })  # fmt: skip
    assert output_node_ids(workflow) == ("2", "3", "4", "5", "7")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["prompt", "seed", "steps"]), max_size=60))
def test_field_names_stay_valid_however_many_duplicates(kinds: list[str]) -> None:
    nodes: dict[str, Any] = {**_BASE}
    for index, kind in enumerate(kinds, start=10):
        nodes[str(index)] = (
            _encode("x")
            if kind == "prompt"
            else {
                "class_type": "RandomNoise" if kind == "seed" else "BasicScheduler",
                "inputs": {"noise_seed": 1, "steps": 2},
            }
        )
    names = [i.name for i in find_inputs(_api(nodes))]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{0,39}", n) for n in names)
