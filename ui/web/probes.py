"""The chat app's probes, for a load balancer or an orchestrator (Chainlit's own `/health`
stays as it is: a fixed answer).

- `GET /healthz`: liveness. 200 `{"status": "ok"}` while the process serves requests;
  it touches nothing, so a slow database never gets a live process restarted.
- `GET /readyz`: readiness. 200 `{"status": "ready", "checks": {...}}` when the database
  answers, its schema is at this release's head and the workflow engine has started;
  otherwise 503, `"status": "not ready"`, and each check with why it failed, in words that
  carry no secret (`vault.health`).

Neither needs a login, and the HTTP guard lets both through (they are GETs, and not the
login route).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tools.pipeline.readiness import engine_check
from vault.health import DEFAULT_TIMEOUT_S, Check, database_checks

if TYPE_CHECKING:
    from ui.root import Root

__all__ = ["install", "liveness", "readiness"]

# A probe's answer is about now: no cache between the prober and the app may keep it.
_NO_STORE = {"cache-control": "no-store"}
_NOT_STARTED = "unknown: the app is still starting"


async def liveness() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


async def readiness(root: Root | None, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> JSONResponse:
    """The readiness answer for `root` (None: the app's start-up has not built it yet)."""
    if root is None:
        names = ("database", "migrations", "workflow_engine")
        checks = [Check(name, False, _NOT_STARTED) for name in names]
    else:
        database, migrations = await database_checks(root.vault.engine, timeout_s=timeout_s)
        checks = [database, migrations, engine_check(root.pipeline)]
    ready = all(check.ok for check in checks)
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {check.name: check.as_json() for check in checks},
    }
    return JSONResponse(body, status_code=200 if ready else 503, headers=_NO_STORE)


def install(app: Starlette, root: Callable[[], Root | None]) -> None:
    """Add both routes to Chainlit's app, ahead of its catch-all page route (which would
    answer any GET with the chat's HTML)."""

    async def healthz(request: Request) -> JSONResponse:
        return await liveness()

    async def readyz(request: Request) -> JSONResponse:
        return await readiness(root())

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    app.router.routes[0:0] = routes
