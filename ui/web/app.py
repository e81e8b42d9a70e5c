"""The Chainlit app. Loaded by `kriptik serve`; the only module tree that imports chainlit.

Wiring only: start-up builds the app's composition root (`ui.root`), and each hook hands it
to a small module (`ui.web.turns` for a chat turn, `ui.web.commands` for /keys, /deployments,
/audit and /usage, `ui.web.panels` for their buttons, `ui.web.connect` and
`ui.web.connect_routes` for connecting accounts, `ui.web.data_layer` for history,
`ui.web.page` for a page that loads nothing from other hosts).
"""

# Chainlit's decorators and session store are only partly annotated; strict mode would
# flag every use. Our own code in this file is still fully typed.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
# `action_callback` is an untyped decorator factory; the functions it wraps are typed.
# pyright: reportUntypedFunctionDecorator=false

from __future__ import annotations

import logging
from typing import Any

import chainlit as cl
import chainlit.config
from chainlit.config import config
from chainlit.data.base import BaseDataLayer
from chainlit.server import app as _app
from chainlit.server import sio
from chainlit.types import ThreadDict
from pydantic import SecretStr

from ui import runtime
from ui.root import Root
from ui.web import (
    commands,
    connect,
    connect_routes,
    deployments,
    metrics_route,
    page,
    panels,
    probes,
    turns,
)
from ui.web.commands import SessionUser
from ui.web.data_layer import ChatDataLayer
from ui.web.http_guard import HttpGuard, client_address
from vault import install_log_redaction
from vault.files import private_dir
from vault.logins import LoginThrottle
from vault.logs import install_log_format

install_log_redaction()
page.install()
_log = logging.getLogger("kriptik.ui")
_handed = runtime.handed_over()  # from `kriptik serve`, the one hand-off (ui/runtime.py)
_settings = _handed.settings
# Text or one JSON object per line (vault/logs.py), on the handlers Chainlit has set up.
install_log_format(_settings.log_format)
# socket.io accepts any origin by default; a session cookie must only work from our page.
sio.eio.cors_allowed_origins = [_settings.app_url]
config.ui.custom_meta_url = _settings.app_url
# Chainlit keeps each session's files (element contents, downloads) under APP_ROOT/.files,
# i.e. inside the code checkout; keep them with the rest of KripTik's data instead.
_FILES = _settings.home / "chat-files"
# Both private whatever the umask: mkdir's `parents` would create the home 0755 otherwise.
private_dir(_settings.home)
private_dir(_FILES)
chainlit.config.FILES_DIRECTORY = _FILES


class _Started:
    """The app's composition root, once `_startup` has built it. The one holder of it:
    Chainlit imports this module, and registers the callbacks below, before start-up runs,
    and calls them with its own arguments only; so they reach the root here, and hand it
    (or the part needed) to everything they call."""

    def __init__(self) -> None:
        self._root: Root | None = None

    def set(self, root: Root) -> None:
        self._root = root

    def peek(self) -> Root | None:
        """The root if start-up has built it (the readiness probe asks before then)."""
        return self._root

    def take(self) -> Root | None:
        """The root, handed back for closing (None when start-up never built one)."""
        root, self._root = self._root, None
        return root

    @property
    def root(self) -> Root:
        if self._root is None:
            raise RuntimeError("the app's services are opened at start-up")
        return self._root


_started = _Started()


async def _login_throttle() -> LoginThrottle:
    return _started.root.vault.users.throttle


# Origin check on unsafe methods and WebSocket upgrades, a per-address login rate limit,
# Secure cookies behind https, no framing by other sites (ui/web/http_guard.py). Added
# here, before any middleware of this module, so that it sits where it always did.
_app.add_middleware(
    HttpGuard, app_url=_settings.app_url, attempts=_settings.login_attempts_per_address,
    throttle=_login_throttle,
)  # fmt: skip


# The browser's side of a redirect connect (/connect/<provider>/start and .../callback).
connect_routes.install(_app, lambda: _started.root)
# /healthz and /readyz, for a load balancer (ui/web/probes.py); no login needed.
probes.install(_app, _started.peek)
# Prometheus metrics (ui/web/metrics_route.py): open on loopback, a bearer token beyond it.
metrics_route.install(_app, _started.peek)


@cl.data_layer
def _data_layer() -> BaseDataLayer:
    return ChatDataLayer(lambda: _started.root.vault)


@cl.on_app_startup
async def _startup() -> None:
    # Again: uvicorn set up its own loggers' handlers after this module was loaded.
    install_log_format(_settings.log_format)
    root = await Root.open(_settings, substitutes=_handed.substitutes)
    root.launch_in_background()
    _started.set(root)


@cl.on_app_shutdown
async def _shutdown() -> None:
    if (root := _started.take()) is not None:
        await root.close()


@cl.password_auth_callback
async def _login(username: str, password: str) -> cl.User | None:
    user = await _started.root.vault.users.verify(
        username.strip().lower(), SecretStr(password), address=client_address()
    )
    if user is None:
        return None
    return cl.User(identifier=user.name, metadata={"id": user.id, "role": user.role})


if _settings.github_oauth_client_id and _settings.github_oauth_client_secret:
    from ui.web import oauth

    # Our GitHub provider (configured URLs, numeric ids) before the decorator, which
    # checks that a provider is configured.
    oauth.install(_settings)

    @cl.oauth_callback
    async def _oauth(
        provider_id: str,
        token: str,
        raw_user_data: dict[str, str],
        default_user: cl.User,
        id_token: str | None = None,
    ) -> cl.User | None:
        # Invited and allow-listed GitHub accounts only (ui/web/github_access.py).
        root = _started.root
        return await oauth.sign_in(root.vault, root.settings, token, raw_user_data)


def _user() -> SessionUser | None:
    """The logged-in user, only if they still exist in our users table."""
    user = cl.user_session.get("user")
    if not isinstance(user, cl.PersistedUser):
        return None  # a token for an account that no longer exists
    return SessionUser(id=user.id, name=user.identifier, role=str(user.metadata.get("role")))


@cl.set_starters
async def _starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    return list(commands.STARTERS)


@cl.on_chat_start
async def _chat_start() -> None:
    await cl.context.emitter.set_commands(commands.COMMANDS)


@cl.on_chat_resume
async def _chat_resume(thread: ThreadDict) -> None:
    await cl.context.emitter.set_commands(commands.COMMANDS)
    if (user := _user()) is not None:
        elements = thread.get("elements") or []
        await deployments.resume(_started.root, user.id, thread["id"], elements)


@cl.on_message
async def _on_message(message: cl.Message) -> None:
    user = _user()
    if user is None:
        await cl.Message(content="Your session has ended. Reload the page and log in again.").send()
        return
    thread_id = cl.context.session.thread_id
    if (command := commands.parse(message)) is not None:
        try:
            await commands.run(_started.root, command, user, thread_id=thread_id)
        except Exception:  # a panel failing must not show a traceback
            _log.exception("/%s failed", command)
            await cl.Message(content=f"/{command} could not be shown just now; try again.").send()
        return
    await turns.run(_started.root, message, user)


async def _panel_action(action: cl.Action, handler: Any) -> None:
    user = _user()
    if user is None:
        return
    try:
        await handler(_started.root, user.id, dict(action.payload or {}))
    except Exception:  # shown as a next step, never a traceback
        _log.exception("panel action %s failed", action.name)
        await cl.Message(
            content="That did not work just now; open the panel again and retry."
        ).send()


@cl.action_callback("kt_key")
async def _key_action(action: cl.Action) -> None:
    await _panel_action(action, panels.on_key_action)


@cl.action_callback("kt_deployment")
async def _deployment_action(action: cl.Action) -> None:
    await _panel_action(action, panels.on_deployment_action)


@cl.action_callback("kt_connect")
async def _connect_action(action: cl.Action) -> None:
    # The Connect card's Cancel: it ends the user's own flow only.
    if (user := _user()) is not None:
        connect.cancel(user.id, dict(action.payload or {}))
