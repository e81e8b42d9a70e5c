"""Every client maps every failure status to the same tree, with its own provider's next
step (key page, status page), and never leaks the key into the error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients._messages import ProviderInfo
from tools.clients.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderPermissionError,
    RateLimited,
    Upstream,
)
from tools.clients.github import GITHUB, GitHubClient
from tools.clients.huggingface import HUGGINGFACE, HuggingFaceClient
from tools.clients.netlify import NETLIFY, NetlifyClient
from tools.clients.openrouter import OPENROUTER, OpenRouterClient
from tools.clients.runpod import RUNPOD, RunPodClient
from tools.clients.runpod_jobs import RunPodJobsClient
from tools.clients.vercel import VERCEL, VercelClient
from tools.simulator import github as ghf
from tools.simulator import huggingface as hff
from tools.simulator import netlify as nff
from tools.simulator import openrouter as orf
from tools.simulator import runpod as rpf
from tools.simulator import vercel as vcf
from tools.simulator.all import FakeStack

Call = Callable[[FakeStack, httpx.AsyncClient, Retry], Awaitable[Any]]


def _or(f: FakeStack, h: httpx.AsyncClient, r: Retry) -> Awaitable[Any]:
    return OpenRouterClient(
        http=h, base_url=f.url("openrouter") + "/api/v1", token=SecretStr(orf.DEFAULT_KEY), retry=r
    ).key()


def _hf(f: FakeStack, h: httpx.AsyncClient, r: Retry) -> Awaitable[Any]:
    return HuggingFaceClient(
        http=h, base_url=f.url("huggingface"), token=SecretStr(hff.DEFAULT_TOKEN), retry=r
    ).whoami()


def _rp(f: FakeStack, h: httpx.AsyncClient, r: Retry) -> Awaitable[Any]:
    return RunPodClient(
        http=h, base_url=f.url("runpod") + "/v2", token=SecretStr(rpf.DEFAULT_KEY), retry=r
    ).list_endpoints()


def _jobs(f: FakeStack, h: httpx.AsyncClient, r: Retry) -> Awaitable[Any]:
    client = RunPodJobsClient(
        http=h, base_url=f.url("runpod_jobs") + "/v2", token=SecretStr(rpf.DEFAULT_KEY), retry=r
    )
    return client.health("ep")


def _gh(f: FakeStack, h: httpx.AsyncClient, r: Retry) -> Awaitable[Any]:
    return GitHubClient(
        http=h, base_url=f.url("github"), token=SecretStr(ghf.DEFAULT_TOKEN), retry=r
    ).user()


def _vc(f: FakeStack, h: httpx.AsyncClient, r: Retry) -> Awaitable[Any]:
    return VercelClient(
        http=h, base_url=f.url("vercel"), token=SecretStr(vcf.DEFAULT_TOKEN), retry=r
    ).user()


def _nf(f: FakeStack, h: httpx.AsyncClient, r: Retry) -> Awaitable[Any]:
    return NetlifyClient(
        http=h, base_url=f.url("netlify") + "/api/v1", token=SecretStr(nff.DEFAULT_TOKEN), retry=r
    ).user()


CLIENTS: dict[str, tuple[str, str, ProviderInfo, Call, str]] = {
    "openrouter": ("openrouter", "GET /api/v1/key", OPENROUTER, _or, orf.DEFAULT_KEY),
    "huggingface": ("huggingface", "GET /api/whoami-v2", HUGGINGFACE, _hf, hff.DEFAULT_TOKEN),
    "runpod": ("runpod", "GET /v2/serverless", RUNPOD, _rp, rpf.DEFAULT_KEY),
    "runpod_jobs": ("runpod_jobs", "GET /v2/{endpoint_id}/health", RUNPOD, _jobs, rpf.DEFAULT_KEY),
    "github": ("github", "GET /user", GITHUB, _gh, ghf.DEFAULT_TOKEN),
    "vercel": ("vercel", "GET /v2/user", VERCEL, _vc, vcf.DEFAULT_TOKEN),
    "netlify": ("netlify", "GET /api/v1/user", NETLIFY, _nf, nff.DEFAULT_TOKEN),
}
NEXT_STEP: dict[int, tuple[type[ProviderError], Callable[[ProviderInfo], str]]] = {
    401: (AuthError, lambda i: f"Create a new one at {i.keys_url}, then paste it here."),
    403: (
        ProviderPermissionError,
        lambda i: f"Create a key with that access at {i.keys_url}, then paste it here.",
    ),
    404: (
        NotFound,
        lambda i: "Check the name or id, and that it belongs to the account of this key.",
    ),
    409: (Conflict, lambda i: "look it up and reuse it, or pick another name."),
    422: (InvalidRequest, lambda i: "Correct the value it names and try again."),
    429: (RateLimited, lambda i: "Wait a minute and try again."),
    500: (Upstream, lambda i: f"try again in a few minutes (status: {i.status_url})."),
    503: (Upstream, lambda i: f"try again in a few minutes (status: {i.status_url})."),
}


@pytest.mark.parametrize("status", sorted(NEXT_STEP))
@pytest.mark.parametrize("provider", sorted(CLIENTS))
async def test_each_status_maps_to_the_tree_with_a_next_step(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, provider: str, status: int
) -> None:
    fake_name, route_key, info, call, key = CLIENTS[provider]
    fake = fakes.fakes()[fake_name]
    fake.fail(route_key, status, times=None, message=f"the server echoed {key}")
    with pytest.raises(ProviderError) as caught:
        await call(fakes, http, retry)
    cls, step = NEXT_STEP[status]
    err = caught.value
    if provider == "vercel" and status == 401:
        assert (type(err), err.status) == (AuthError, 403)  # Vercel: 403 with invalidToken
    else:
        assert type(err) is cls and err.status == status
    assert str(err).startswith(info.name) and str(err).endswith(step(info))
    assert err.provider == info.name
    assert key not in str(err) + repr(err)  # a provider echoing the key: scrubbed
    if provider != "runpod_jobs":
        assert err.request_id is not None
