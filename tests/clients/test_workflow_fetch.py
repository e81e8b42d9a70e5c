"""Fetching a workflow from a URL, against a real HTTPS server on loopback (a self-signed
certificate the client trusts): the file comes back byte for byte; http, a redirect to http,
a private address (unless allowed, as here for loopback), a body over the limit (declared or
streamed), a 404 and a redirect loop are refused with what to do instead."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from tests.clients.tls_server import LIMIT, serving_https
from tests.comfy.fixtures import SDXL, fixture_bytes
from tools.clients.workflow_fetch import FetchRefused, fetch_workflow_bytes


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serving_https(tmp_path_factory.mktemp("tls")) as served:
        yield served


async def _fetch(server: tuple[str, str], path: str, *, allow_private: bool = True) -> bytes:
    base, pem = server
    trusted = ssl.create_default_context(cadata=pem)
    async with httpx.AsyncClient(verify=trusted, trust_env=False) as http:
        return await fetch_workflow_bytes(
            http, base + path, max_bytes=LIMIT, timeout_s=5, allow_private=allow_private
        )


async def test_a_workflow_is_fetched_byte_for_byte_also_after_a_redirect(
    https_server: tuple[str, str],
) -> None:
    assert await _fetch(https_server, "/sdxl.json") == fixture_bytes(SDXL)
    assert await _fetch(https_server, "/moved") == fixture_bytes(SDXL)


@pytest.mark.parametrize(
    ("path", "allow_private", "says"),
    [
        ("/sdxl.json", False, "not a public address"),
        ("/to-http", True, "only https URLs"),
        ("/loop", True, "redirected more than 3 times"),
        ("/declared-big", True, "a workflow is at most"),
        ("/streamed-big", True, "the most a workflow may be"),
        ("/missing.json", True, "answered 404"),
    ],
)
async def test_what_is_refused_says_why(
    https_server: tuple[str, str], path: str, allow_private: bool, says: str
) -> None:
    with pytest.raises(FetchRefused, match=says):
        await _fetch(https_server, path, allow_private=allow_private)


async def test_a_plain_http_url_is_refused_before_any_request() -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        with pytest.raises(FetchRefused, match="only https URLs"):
            await fetch_workflow_bytes(http, "http://127.0.0.1:9/x.json", max_bytes=10, timeout_s=1)
