"""`GET /metrics` on the chat app's server (`ui.web.metrics_route`), over a real
composition root: open while the app is on loopback only; beyond it, only with the bearer
token `KRIPTIK_METRICS_TOKEN`, and refused with a clear answer while none is set. No answer
ever holds the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from tests.conftest import new_master_key
from tests.services.kriptik import serve
from ui.root import Root
from ui.web import metrics_route
from vault import Settings

TOKEN = "scrape-" + "x7Rq2vLm9TzB4nWc"  # the planted token


@asynccontextmanager
async def _served(tmp_path: Path, **fields: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        home=tmp_path / "home", database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
        master_key=SecretStr(new_master_key()), **fields,
    )  # fmt: skip
    root = await Root.open(settings)
    app = Starlette()
    metrics_route.install(app, lambda: root)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client
    finally:
        await root.close()


async def test_on_loopback_the_metrics_are_open(tmp_path: Path) -> None:
    async with _served(tmp_path) as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "# TYPE kriptik_turns_total counter" in answer.text
    assert 'kriptik_approvals_total{decision="refused"} 0.0' in answer.text
    assert "kriptik_live_endpoints 0.0" in answer.text
    assert 'kriptik_deployments{state="ready"} 0.0' in answer.text


@pytest.mark.parametrize(
    "exposure",
    [{"public_url": "https://kriptik.example"}, {"host": "0.0.0.0"}],  # noqa: S104
)
async def test_exposed_without_a_token_the_metrics_are_refused(
    tmp_path: Path, exposure: dict[str, str]
) -> None:
    async with _served(tmp_path, **exposure) as client:
        answer = await client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 403
    assert "KRIPTIK_METRICS_TOKEN is not set" in answer.text
    assert "kriptik_" not in answer.text


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", "Bearer "],
)
async def test_exposed_only_the_token_opens_them(tmp_path: Path, header: str | None) -> None:
    exposed = {"public_url": "https://kriptik.example", "metrics_token": SecretStr(TOKEN)}
    async with _served(tmp_path, **exposed) as client:
        refused = await client.get("/metrics", headers={"Authorization": header} if header else {})
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "kriptik_" not in refused.text.replace("KRIPTIK_METRICS_TOKEN", "")
    assert allowed.status_code == 200 and "kriptik_live_endpoints" in allowed.text
    for answer in (refused, allowed):
        assert TOKEN not in answer.text and TOKEN not in str(answer.headers)


async def test_before_start_up_the_route_says_so() -> None:
    app = Starlette()
    metrics_route.install(app, lambda: None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 503 and "starting" in answer.text


def test_the_chat_app_serves_the_route(tmp_path: Path) -> None:
    """`kriptik serve`, published beyond loopback with a token: the app wires the route
    ahead of Chainlit's catch-all page, behind the token."""
    env = {"KRIPTIK_PUBLIC_URL": "https://kriptik.test", "KRIPTIK_METRICS_TOKEN": TOKEN}
    with serve(tmp_path / "home", **env) as server:
        refused = httpx.get(f"{server.url}/metrics", timeout=30)
        allowed = httpx.get(
            f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
    assert refused.status_code == 401, refused.text[:200]
    assert allowed.status_code == 200 and "# TYPE kriptik_turns_total counter" in allowed.text
    assert 'kriptik_deployments{state="ready"} 0.0' in allowed.text
