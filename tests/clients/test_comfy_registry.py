"""ComfyRegistryClient and CachedNodeLookup against the ComfyUI registry fake, over loopback
(contract: comfy-registry.subset.openapi.json, requests and responses)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from tools.clients._http import Retry
from tools.clients.comfy_registry import CachedNodeLookup, ComfyRegistryClient, RegistryNode
from tools.clients.errors import RateLimited, Upstream
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.comfy_registry import NODE_ROUTE, RegistryPack


def _client(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> ComfyRegistryClient:
    return ComfyRegistryClient(http=http, base_url=fakes.url("comfy_registry"), retry=retry)


async def test_a_custom_class_names_its_pack_repository_and_latest_version(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    node = await _client(fakes, http, retry).node_for_class("ImageResizeKJv2")
    assert node == RegistryNode(
        id="comfyui-kjnodes",
        name="ComfyUI-KJNodes",
        repository="https://github.com/kijai/ComfyUI-KJNodes",
        latest_version="1.5.2",
        publisher="kijai",
    )
    call = fakes.comfy_registry.calls_to(NODE_ROUTE)[0]
    assert "authorization" not in call.headers  # public reads: no key is sent


@pytest.mark.parametrize(
    ("class_type", "pack_id"),
    [
        ("NunchakuFluxLoraLoader", "comfyui-nunchaku"),
        ("Image Blend", "was-node-suite-comfyui"),
        ("ImpactWildcardProcessor", "comfyui-impact-pack"),
        ("VHS_LoadVideo", "comfyui-videohelpersuite"),
        ("ImageResize+", "comfyui_essentials"),
        ("IPAdapterModelLoader", "comfyui_ipadapter_plus"),
        ("UnetLoaderGGUF", "ComfyUI-GGUF"),
    ],
)
async def test_the_seeded_packs_answer_for_their_classes(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, class_type: str, pack_id: str
) -> None:
    node = await _client(fakes, http, retry).node_for_class(class_type)
    assert node is not None and node.id == pack_id
    assert node.repository and node.latest_version


async def test_class_names_with_spaces_and_pipes_travel_as_one_path_segment(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    rgthree = await client.node_for_class("Power Lora Loader (rgthree)")
    pysssss = await client.node_for_class("LoraLoader|pysssss")
    assert rgthree is not None and rgthree.id == "rgthree-comfy"
    assert pysssss is not None and pysssss.id == "comfyui-custom-scripts"
    raw = [c.raw_path for c in fakes.comfy_registry.calls_to(NODE_ROUTE)]
    assert raw == [
        "/comfy-nodes/Power%20Lora%20Loader%20%28rgthree%29/node",
        "/comfy-nodes/LoraLoader%7Cpysssss/node",
    ]


async def test_an_unknown_class_is_none_not_an_error(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    assert await _client(fakes, http, retry).node_for_class("NoSuchNodeAnywhere") is None
    assert fakes.comfy_registry.calls_to(NODE_ROUTE)[0].status == 404


async def test_the_pack_that_preempts_a_shared_name_answers(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.comfy_registry.add_pack(
        RegistryPack("other-pack", "Other", "https://github.com/o/p", "0.1.0", ("SAMLoader",))
    )
    node = await _client(fakes, http, retry).node_for_class("SAMLoader")
    assert node is not None and node.id == "comfyui-impact-pack"


async def test_429_is_waited_out_as_retry_after_says(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, clock: FakeClock
) -> None:
    fakes.comfy_registry.fail(NODE_ROUTE, 429, retry_after=7)
    node = await _client(fakes, http, retry).node_for_class("VHS_VideoCombine")
    assert node is not None and node.id == "comfyui-videohelpersuite"
    assert clock.sleeps == [7.0]


async def test_persistent_429_reaches_the_caller_with_its_wait(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.comfy_registry.fail(NODE_ROUTE, 429, times=None, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        await _client(fakes, http, retry).node_for_class("VHS_VideoCombine")
    assert caught.value.retry_after == 3.0
    assert "ComfyUI registry is rate-limiting" in str(caught.value)


async def test_5xx_is_retried_then_reported(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, clock: FakeClock
) -> None:
    fakes.comfy_registry.fail(NODE_ROUTE, 500)
    node = await _client(fakes, http, retry).node_for_class("UnetLoaderGGUF")
    assert node is not None and node.id == "ComfyUI-GGUF"
    assert len(clock.sleeps) == 1
    fakes.comfy_registry.fail(NODE_ROUTE, 503, times=None)
    with pytest.raises(Upstream) as caught:
        await _client(fakes, http, retry).node_for_class("UnetLoaderGGUF")
    assert caught.value.status == 503


async def test_a_body_that_is_not_a_node_is_upstream(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.comfy_registry.fail(NODE_ROUTE, "malformed", times=None)
    with pytest.raises(Upstream):
        await _client(fakes, http, retry).node_for_class("UnetLoaderGGUF")


# ---- the cache ---------------------------------------------------------------------------
async def test_answers_are_reused_within_max_age_then_asked_again(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, tmp_path: Path
) -> None:
    clock = FakeClock()
    lookup = CachedNodeLookup(
        _client(fakes, http, retry), path=tmp_path / "nodes.json", clock=clock.now
    )
    first = await lookup.node_for_class("Image Comparer (rgthree)")
    assert await lookup.node_for_class("NoSuchNodeAnywhere") is None  # "none" is kept too
    await clock.sleep(timedelta(days=6, hours=23).total_seconds())
    assert await lookup.node_for_class("Image Comparer (rgthree)") == first
    assert await lookup.node_for_class("NoSuchNodeAnywhere") is None
    assert len(fakes.comfy_registry.calls_to(NODE_ROUTE)) == 2
    assert lookup.as_of() == date(2026, 1, 1)
    await clock.sleep(timedelta(hours=2).total_seconds())  # now past 7 days: asked again
    assert await lookup.node_for_class("Image Comparer (rgthree)") == first
    assert len(fakes.comfy_registry.calls_to(NODE_ROUTE)) == 3
    assert lookup.as_of(["Image Comparer (rgthree)"]) == date(2026, 1, 8)
    assert lookup.as_of(["NoSuchNodeAnywhere"]) == date(2026, 1, 1)
    assert lookup.as_of(["NeverAsked"]) is None


async def test_the_file_carries_answers_and_dates_to_the_next_process(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, tmp_path: Path
) -> None:
    path, clock = tmp_path / "cache" / "nodes.json", FakeClock()
    first = CachedNodeLookup(_client(fakes, http, retry), path=path, clock=clock.now)
    node = await first.node_for_class("CR Upscale Image")  # no seeded pack has it
    kept = await first.node_for_class("easy seed")
    assert (node, kept) == (None, None)
    await first.node_for_class("SAMLoader")
    saved = json.loads(path.read_text())["lookups"]
    assert saved["SAMLoader"]["node"]["id"] == "comfyui-impact-pack"
    assert saved["SAMLoader"]["checked"].startswith("2026-01-01")
    again = CachedNodeLookup(_client(fakes, http, retry), path=path, clock=clock.now)
    calls = len(fakes.comfy_registry.calls_to(NODE_ROUTE))
    sam = await again.node_for_class("SAMLoader")
    assert sam is not None and sam.repository == "https://github.com/ltdrdata/ComfyUI-Impact-Pack"
    assert len(fakes.comfy_registry.calls_to(NODE_ROUTE)) == calls
    assert again.as_of() == date(2026, 1, 1)


async def test_an_unreadable_cache_file_is_an_empty_cache(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, tmp_path: Path
) -> None:
    path = tmp_path / "nodes.json"
    path.write_text('{"lookups": {"SAMLoader": {"checked": "not a date"}')
    lookup = CachedNodeLookup(_client(fakes, http, retry), path=path)
    assert lookup.as_of() is None
    assert await lookup.node_for_class("SAMLoader") is not None
    assert json.loads(path.read_text())["lookups"]["SAMLoader"]["node"]["id"]
