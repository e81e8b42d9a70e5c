"""The Hugging Face client talks to the configured Hub and nothing else.

`huggingface_hub` builds a user agent for every request and, with telemetry on, looks the
calling "agent harness" up in a registry that it fetches from `constants.ENDPOINT`
(huggingface.co), whatever `endpoint=` the `HfApi` was given: one request to the real Hub
per process. Here every name lookup and connection the process makes is recorded (and
refused, so that nothing leaves the machine even if this regresses) while the client runs
each of its calls against the local fake. Also: an answer that `HfApi` cannot parse is an
`Upstream` error, as from the REST clients, never a `json.JSONDecodeError`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub.utils import _detect_agent  # pyright: ignore[reportPrivateUsage]
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import Upstream
from tools.clients.huggingface import HuggingFaceClient
from tools.simulator.all import FakeStack
from tools.simulator.huggingface import DEFAULT_TOKEN

LLAMA = "kriptik-test/tiny-llama"


def _name(host: object) -> str:
    return host.decode() if isinstance(host, bytes) else str(host)


def _loopback(host: object) -> bool:
    host = _name(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """Hosts other than loopback that the process tried to resolve or connect to."""
    seen: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host):
            seen.append(f"getaddrinfo {_name(host)}")
            raise socket.gaierror(socket.EAI_NONAME, "refused by the test")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and not _loopback(address[0]):  # pyright: ignore[reportUnknownArgumentType]
            seen.append(f"connect {_name(address[0])}")
            raise ConnectionRefusedError("refused by the test")
        real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    # Undo what an earlier test of this process may have resolved and cached, in memory
    # and on disk, so that a first request here would fetch the registry again.
    monkeypatch.setattr(_detect_agent, "_registry", None)
    monkeypatch.setattr(
        _detect_agent.constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agents.json")
    )
    yield seen


def _client(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> HuggingFaceClient:
    return HuggingFaceClient(
        http=http, base_url=fakes.url("huggingface"), token=SecretStr(DEFAULT_TOKEN), retry=retry
    )


async def test_every_call_reaches_only_the_configured_hub(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, outside: list[str], tmp_path: Path
) -> None:
    client = _client(fakes, http, retry)
    assert (await client.whoami()).name
    await client.auth_check(LLAMA)
    assert (await client.model_info(LLAMA)).id == LLAMA
    assert await client.safetensors_metadata(LLAMA) is not None
    assert await client.read_json(LLAMA, "config.json") is not None
    assert outside == []
    assert not (tmp_path / "agents.json").exists(), "nothing fetched, nothing cached"
    assert {c.route for c in fakes.huggingface.calls} >= {
        "GET /api/whoami-v2",
        "GET /api/models/{repo}/auth-check",
        "GET /api/models/{repo}",
        "GET /{repo}/resolve/{rev}/{file}",
    }


async def test_the_watch_sees_a_request_to_another_host(outside: list[str]) -> None:
    """The recorder above works: a request elsewhere is seen (and refused)."""
    async with httpx.AsyncClient(trust_env=False) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("https://huggingface.co/api/agent-harnesses")
    assert outside == ["getaddrinfo huggingface.co"]


async def test_model_info_that_is_not_json_is_an_upstream_error(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.huggingface.fail("GET /api/models/{repo}", "malformed", times=None)
    with pytest.raises(Upstream, match="could not be read") as caught:
        await _client(fakes, http, retry).model_info(LLAMA)
    assert caught.value.provider == "Hugging Face" and caught.value.status == 200
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert len(fakes.huggingface.calls_to("GET /api/models/{repo}")) == retry.max_attempts
