"""`GET /metrics`: the process's Prometheus metrics (`tools.metrics`), on the chat app's
own server.

```
app on loopback only (host and public URL)   open: only this machine can reach it
app reachable beyond loopback                `Authorization: Bearer <KRIPTIK_METRICS_TOKEN>`
                                             (compared in constant time); no token set: 403
```

Whether the app is exposed is read from the settings, never from the request's address: a
reverse proxy on the same machine makes every request look local.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ui.root import Root
    from vault import Settings

__all__ = ["exposed", "install", "metrics_response"]

_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_UNSET_ANSWER: Final = (
    "/metrics is off: this app is reachable beyond loopback and KRIPTIK_METRICS_TOKEN is not "
    "set. Set it, then scrape with the header 'Authorization: Bearer <token>'."
)
_WRONG_ANSWER: Final = "/metrics needs the header 'Authorization: Bearer <KRIPTIK_METRICS_TOKEN>'."
_NOT_STARTED: Final = "The app is starting; try again in a moment."


def exposed(settings: Settings) -> bool:
    """True when the app can be reached from beyond this machine: it listens on another
    address than loopback, or a public URL other than loopback names it."""
    return settings.host not in _LOOPBACK or urlsplit(settings.app_url).hostname not in _LOOPBACK


def _refusal(settings: Settings, authorization: str | None) -> Response | None:
    """The answer to a scrape that may not read the metrics, or None when it may."""
    if not exposed(settings):
        return None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not token:
        return PlainTextResponse(_UNSET_ANSWER, status_code=403)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        given = ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        return PlainTextResponse(
            _WRONG_ANSWER, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    return None


async def metrics_response(root: Root, authorization: str | None) -> Response:
    """The exposition, after the scrape-time gauges are read from the deployment records."""
    if (refused := _refusal(root.settings, authorization)) is not None:
        return refused
    await root.metrics.refresh(root.vault.sessions)
    return Response(
        root.metrics.exposition(),
        media_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )


def install(app: Starlette, root: Callable[[], Root | None]) -> None:
    """Add the route to Chainlit's app, ahead of its catch-all page route (which would
    answer any GET with the chat's HTML)."""

    async def metrics(request: Request) -> Response:
        if (started := root()) is None:
            return PlainTextResponse(_NOT_STARTED, status_code=503)
        return await metrics_response(started, request.headers.get("authorization"))

    app.router.routes[0:0] = [Route("/metrics", metrics, methods=["GET"])]
