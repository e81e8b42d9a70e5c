"""Fetching a ComfyUI workflow from a URL the user gave: https only, from public addresses
only, at most `max_bytes`, without following a redirect anywhere else.

The URL comes through the chat (the model passes it on), so this is the one place KripTik
fetches an address it did not choose. Guarded against being turned on the server's own
network: the host must resolve to public addresses only (no loopback, private, link-local,
multicast or reserved ones), each redirect is checked the same way, and the body is read in
chunks and cut at the limit. (A host that resolves differently between the check and the
connection could still slip through; the check narrows that to a DNS race.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["FetchRefused", "fetch_workflow_bytes"]

_MAX_REDIRECTS: Final = 3
_ANSWERED: Final = (
    "the server answered {status} for that URL: check that it opens the raw .json file"
)
_UNREACHABLE: Final = (
    "the URL could not be fetched ({kind}): check it, or download the file and attach it"
)


class FetchRefused(Exception):
    """The workflow could not be fetched; the message says why and what to do instead."""


async def _public(host: str, port: int) -> None:
    """Refuse a host that resolves to any non-public address."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise FetchRefused(f"{host} could not be resolved: check the URL") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchRefused(
                f"{host} is not a public address; KripTik fetches workflows only from the "
                "internet. Download the file and attach it instead"
            )


async def _checked(url: str, allow_private: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise FetchRefused(f"only https URLs are fetched, not {url[:100]!r}")
    if not allow_private:
        await _public(parts.hostname, parts.port or 443)
    return url


async def _body(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused(f"the file is {int(declared) / 1e6:.1f} MB; a workflow is at most "
                           f"{max_bytes / 1e6:.0f} MB")  # fmt: skip
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchRefused(f"the file is over {max_bytes / 1e6:.0f} MB, the most a "
                               "workflow may be")  # fmt: skip
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_workflow_bytes(
    http: httpx.AsyncClient, url: str, *, max_bytes: int, timeout_s: float,
    allow_private: bool = False,
) -> bytes:  # fmt: skip
    """The file at `url`.

    Args:
        http: The process's client.
        url: An https URL (`tools.comfy.parse.check_workflow_url` checked it).
        max_bytes: The largest body accepted.
        timeout_s: Per request.
        allow_private: Also fetch from non-public addresses (tests on loopback only).

    Raises:
        FetchRefused: Not https, not public, too large, not found, or unreachable.
    """
    for _ in range(_MAX_REDIRECTS + 1):
        url = await _checked(url, allow_private)
        try:
            async with http.stream("GET", url, timeout=timeout_s, follow_redirects=False) as r:
                if r.is_redirect and "location" in r.headers:
                    url = urljoin(url, r.headers["location"])
                    continue
                if r.status_code != 200:
                    raise FetchRefused(_ANSWERED.format(status=r.status_code))
                return await _body(r, max_bytes)
        except httpx.HTTPError as err:
            raise FetchRefused(_UNREACHABLE.format(kind=type(err).__name__)) from None
    raise FetchRefused(f"the URL redirected more than {_MAX_REDIRECTS} times")
