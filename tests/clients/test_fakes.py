"""The fakes themselves: they check their own answers against the published contracts,
speak the wire formats exactly, and stay on loopback."""

from __future__ import annotations

import json
import re
import struct
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.responses import Response

from tools.clients._http import Retry
from tools.clients.runpod import RunPodClient
from tools.simulator import hf_repos
from tools.simulator import runpod as rpf
from tools.simulator._base import Exchange, FakeRequest, json_response
from tools.simulator.all import FakeStack
from tools.simulator.netlify import NetlifyFake
from tools.simulator.server import serve


async def test_a_drifting_answer_is_caught_by_the_response_contract(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def drifted(self: rpf.RunPodFake, req: FakeRequest) -> Response:
        return json_response({"gpus": [{"id": "NVIDIA L4", "memory": "24GB"}]})

    drifted.__fake_route__ = rpf.RunPodFake.gpus.__fake_route__  # type: ignore[attr-defined]
    monkeypatch.setattr(rpf.RunPodFake, "gpus", drifted)
    fake = rpf.RunPodFake(fakes.runpod.state)  # routes bind at construction
    with serve(fake) as url:
        client = RunPodClient(
            http=http, base_url=url + "/v2", token=SecretStr(rpf.DEFAULT_KEY), retry=retry
        )
        await client._api.call("GET", "/catalog/gpus")
    problems = "\n".join(fake.violations)
    assert "GET /v2/catalog/gpus -> 200" in problems
    assert "'name' is a required property" in problems or "is not of type 'integer'" in problems


def test_every_route_of_every_fake_is_in_its_contract(fake_stack: FakeStack) -> None:
    for name, fake in fake_stack.fakes().items():
        if fake.contract is None:
            continue
        for method, key, _, _ in fake._routes:
            if f"{method} {key}" in fake._unchecked:
                continue
            params = dict.fromkeys(re.findall(r"\{(\w+)\}", key), "x")
            ex = Exchange(method, key, params, [], {"authorization": "Bearer k"}, b"", "")
            problems = fake.contract.check_request(ex)
            assert not any(
                "not in the" in p or "PathNotFound" in p or "OperationNotFound" in p
                for p in problems
            ), (
                name,
                key,
                problems,
            )


def test_safetensors_header_is_the_wire_format() -> None:
    tensors = [hf_repos.Tensor("a", "BF16", (2, 3)), hf_repos.Tensor("b", "U8", (5,))]
    raw = hf_repos.safetensors_header(tensors, {"format": "pt"})
    (length,) = struct.unpack("<Q", raw[:8])
    assert length == len(raw) - 8 and length % 8 == 0
    header: dict[str, Any] = json.loads(raw[8:])
    assert header["a"] == {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]}
    assert header["b"]["data_offsets"] == [12, 17]
    f = hf_repos.HubFile.safetensors("model.safetensors", tensors)
    assert f.size == len(raw) + 17
    assert f.read(0, 7) == raw[:8] and f.read(f.size - 3, f.size + 10) == b"\0\0\0"


async def test_range_requests_follow_http_semantics(
    fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    url = f"{fakes.url('huggingface')}/kriptik-test/tiny-llama/resolve/main/model.safetensors"
    size = fakes.huggingface.repos["kriptik-test/tiny-llama"].files["model.safetensors"].size
    part = await http.get(url, headers={"Range": "bytes=0-7"})
    assert (part.status_code, part.headers["content-range"], len(part.content)) == (
        206,
        f"bytes 0-7/{size}",
        8,
    )
    head = await http.head(url)
    assert (head.status_code, head.headers["x-linked-size"], head.headers["accept-ranges"]) == (
        200,
        str(size),
        "bytes",
    )
    assert "x-repo-commit" in head.headers and "etag" in head.headers
    beyond = await http.get(url, headers={"Range": f"bytes={size + 1}-"})
    assert beyond.status_code == 416
    missing = await http.get(url.replace("model.safetensors", "nope.bin"))
    assert (missing.status_code, missing.headers["x-error-code"]) == (404, "EntryNotFound")


def test_servers_listen_on_loopback_only(fake_stack: FakeStack) -> None:
    for served in fake_stack.servers.values():
        assert served._sock.getsockname()[0] == "127.0.0.1"


def test_faults_name_real_routes() -> None:
    with pytest.raises(KeyError, match="no route 'GET /nope'"):
        NetlifyFake().fail("GET /nope", 500)
