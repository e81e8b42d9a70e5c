"""The browser's side of a redirect connect, on the chat app's own server.

```
GET /connect/{provider}/start?flow=<id>    the card's "Open <provider>" link: for the
    signed-in owner of that flow, a random browser binding in an HttpOnly cookie, the
    OAuth state bound to the user and that binding (`Connections.begin_redirect`), and
    a redirect to the provider
GET /connect/{provider}/callback?code&state    where the provider sends the browser back:
    the signed-in user (Chainlit's login cookie) and the binding cookie must match the
    state (`Connections.complete_redirect` consumes it once); the waiting chat card is
    told, and the tab says "Connected. You can close this tab."
```

The code and state are registered with the redactor as they arrive, so the server's
access log line of the callback shows neither. Nothing the pages say holds a token.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ui.web.connect import FLOWS, Flow, failure_text
from ui.web.connect_cards import FLOW_TTL_S
from ui.web.render import clean
from ui.web.titles import provider_title
from vault import REDACTOR, OAuthStateInvalid

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ui.root import Root

__all__ = ["BINDING_COOKIE", "PROVIDERS", "install", "page"]

PROVIDERS: Final = frozenset({"github", "vercel", "netlify", "openrouter"})
BINDING_COOKIE: Final = "kriptik_connect_{provider}"
_NO_STORE: Final = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def page(title: str, detail: str, *, status: int = 200) -> HTMLResponse:
    """A small page of our own (no script, nothing from another host)."""
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;
color:#1f2937}}h1{{font-size:1.35rem}}p{{color:#4b5563}}</style></head>
<body><main><h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p></main></body></html>"""
    return HTMLResponse(body, status_code=status, headers=_NO_STORE)


async def signed_in_user(request: Request) -> str | None:
    """Our user id for the request's Chainlit login cookie, or None."""
    from chainlit.auth import authenticate_user, get_token_from_cookies
    from chainlit.user import PersistedUser
    from fastapi import HTTPException

    token = get_token_from_cookies(dict(request.cookies))
    if not token:
        return None
    try:
        user = await authenticate_user(token)
    except HTTPException:
        return None
    return user.id if isinstance(user, PersistedUser) else None


def _not_signed_in() -> HTMLResponse:
    return page(
        "Sign in to KripTik first",
        "Open this link in the browser where you are signed in to the KripTik chat.",
        status=401,
    )


async def start(request: Request, root: Root) -> Response:
    provider = str(request.path_params["provider"])
    if provider not in PROVIDERS:
        return page("Unknown provider", "There is nothing to connect here.", status=404)
    if (user_id := await signed_in_user(request)) is None:
        return _not_signed_in()
    flow = FLOWS.get(request.query_params.get("flow", ""), user_id=user_id)
    if flow is None or flow.provider != provider:
        return page(
            "This link has ended",
            "It was used up, cancelled or expired. Go back to the chat and press Connect again.",
            status=410,
        )
    flow.binding = flow.binding or secrets.token_urlsafe(32)
    try:
        url = await root.connections.begin_redirect(user_id, provider, session_id=flow.binding)
    except Exception as error:  # the page says what to do; the card says it too
        message = failure_text(error, provider=provider)
        flow.finish(message)
        return page(f"Could not open {provider_title(provider)}", message, status=502)
    response = RedirectResponse(url, status_code=303, headers=_NO_STORE)
    response.set_cookie(
        BINDING_COOKIE.format(provider=provider), flow.binding, max_age=FLOW_TTL_S,
        path=f"/connect/{provider}/", httponly=True, samesite="lax",
        secure=root.settings.app_url.startswith("https://"),
    )  # fmt: skip
    return response


async def callback(request: Request, root: Root) -> Response:
    provider = str(request.path_params["provider"])
    params = request.query_params
    code, state = params.get("code", ""), params.get("state", "")
    for value in (code, state):
        REDACTOR.register(value)  # before anything (the access log) can write them
    if provider not in PROVIDERS:
        return page("Unknown provider", "There is nothing to connect here.", status=404)
    if (user_id := await signed_in_user(request)) is None:
        return _not_signed_in()
    title = provider_title(provider)
    binding = request.cookies.get(BINDING_COOKIE.format(provider=provider), "")
    flow = FLOWS.bound(binding, user_id=user_id, provider=provider) if binding else None
    if error := re.sub(r"[^A-Za-z0-9_.-]", "", params.get("error", ""))[:40]:
        message = (
            f"{title} did not connect: you declined, or {title} refused ({error}). Press"
            " Connect again, or paste a key."
        )
        return _ended(flow, provider, message, status=400)
    if not binding:
        message = (
            "This sign-in did not start in this browser. Go back to the chat and press"
            " Connect again."
        )
        return _ended(flow, provider, message, status=400)
    if not code:
        message = f"{title} sent no approval back. Go back to the chat and press Connect again."
        return _ended(flow, provider, message, status=400)
    try:
        connected = await root.connections.complete_redirect(
            provider, state=state, code=code, user_id=user_id, session_id=binding
        )
    except Exception as error:  # the page and the card say why and what to do next
        return _ended(flow, provider, _callback_failure(error, provider), status=400)
    if flow is not None:
        flow.finish(connected)
    response = page("Connected. You can close this tab.", clean(connected.message))
    response.delete_cookie(BINDING_COOKIE.format(provider=provider), path=f"/connect/{provider}/")
    return response


def _callback_failure(error: Exception, provider: str) -> str:
    if isinstance(error, OAuthStateInvalid):
        return (
            "This sign-in link was already used, has expired, or belongs to another session."
            " Go back to the chat and press Connect again."
        )
    return failure_text(error, provider=provider)


def _ended(flow: Flow | None, provider: str, message: str, *, status: int) -> HTMLResponse:
    if flow is not None:
        flow.finish(message)
    return page(f"{provider_title(provider)} was not connected", message, status=status)


def install(app: Starlette, root: Callable[[], Root]) -> None:
    """Add both routes to Chainlit's app, ahead of its catch-all page route (which would
    answer any GET with the chat's HTML)."""

    async def start_route(request: Request) -> Response:
        return await start(request, root())

    async def callback_route(request: Request) -> Response:
        return await callback(request, root())

    routes = [
        Route("/connect/{provider}/start", start_route, methods=["GET"]),
        Route("/connect/{provider}/callback", callback_route, methods=["GET"]),
    ]
    app.router.routes[0:0] = routes
