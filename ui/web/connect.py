"""Connecting an account in the chat: the "Connect <provider>" option on the key card, and
the card that runs the flow (`public/elements/ConnectFlow.jsx`).

```
key card ── Connect ──> device flow:   code + link shown, `finish_device` polls ──┐
                        redirect flow: "Open <provider>" -> /connect/<p>/start ───┤
                                       (ui/web/connect_routes.py) -> provider ->  │
                                       /connect/<p>/callback resolves the wait ───┤
                                                                                  v
                                              card says what was connected, or why not
```

Nothing the browser gets holds a token, a device code, a PKCE verifier or an OAuth state:
the redirect card links to this app's own start route with a flow id, and the state is
made only when the signed-in owner of that flow opens it. The pending flows of this
process are kept here (`FLOWS`): the browser's callback and the chat card that waits for
it meet in this registry. A callback that reaches another instance still completes the
connection (the pending state is in the database); the waiting card then finds it in the
vault when its wait ends.
"""

from __future__ import annotations

# Chainlit's elements are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import chainlit as cl

from ui.web.connect_cards import FLOW_TTL_S, connected_props, device_props, redirect_props
from ui.web.render import clean
from ui.web.titles import provider_title
from vault import VaultError

if TYPE_CHECKING:
    from tools.connect import Connected, Connections, ConnectOption
    from ui.root import Root

_log = logging.getLogger(__name__)
ELEMENT: Final = "ConnectFlow"


# ---- the flows this process waits for ------------------------------------------------
@dataclass
class Flow:
    """One connect in progress, as the chat card and the browser's routes know it."""

    id: str
    user_id: str
    provider: str
    method: str
    started: float = field(default_factory=time.monotonic)
    # The browser binding: a random value in an HttpOnly cookie, set when the owner opens
    # the start link; the OAuth state is bound to it (and the user), so the callback must
    # come back to the browser that started it.
    binding: str | None = None
    done: asyncio.Future[Connected | str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def finish(self, outcome: Connected | str) -> None:
        if not self.done.done():
            self.done.set_result(outcome)


class Flows:
    """The pending flows of this process, by id and by browser binding."""

    def __init__(self) -> None:
        self._flows: dict[str, Flow] = {}

    def open(self, user_id: str, provider: str, method: str) -> Flow:
        self._expire()
        flow = Flow(secrets.token_urlsafe(18), user_id, provider, method)
        self._flows[flow.id] = flow
        return flow

    def get(self, flow_id: str, *, user_id: str) -> Flow | None:
        """The user's own pending flow (another user's id is no flow at all)."""
        flow = self._flows.get(flow_id)
        return flow if flow and flow.user_id == user_id and not flow.done.done() else None

    def bound(self, binding: str, *, user_id: str, provider: str) -> Flow | None:
        for flow in self._flows.values():
            if flow.binding is not None and secrets.compare_digest(flow.binding, binding):
                ok = flow.user_id == user_id and flow.provider == provider
                return flow if ok else None
        return None

    def close(self, flow: Flow) -> None:
        self._flows.pop(flow.id, None)

    def _expire(self) -> None:
        old = [f for f in self._flows.values() if time.monotonic() - f.started > FLOW_TTL_S * 2]
        for flow in old:
            flow.finish("This connect link expired. Press Connect again.")
            self.close(flow)


FLOWS: Final = Flows()


def cancel(user_id: str, payload: Mapping[str, Any]) -> None:
    """The card's Cancel button: end the user's own flow; the waiting card says so."""
    if (flow := FLOWS.get(str(payload.get("flow_id", "")), user_id=user_id)) is not None:
        flow.finish(f"Cancelled: {provider_title(flow.provider)} was not connected.")


# ---- the card in the chat ------------------------------------------------------------
class ConnectCard:
    """The ConnectFlow element in a message of its own, updated in place as the flow goes."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.element = cl.CustomElement(name=ELEMENT, props={}, display="inline")
        self._props: dict[str, Any] = {}

    async def show(self, props: dict[str, Any]) -> None:
        self._props = {**props, "version": time.time_ns()}
        self.element.props = self._props
        await cl.Message(content="", elements=[self.element]).send()

    async def set(self, props: dict[str, Any]) -> None:
        self._props = {**self._props, **props, "version": time.time_ns()}
        self.element.props = self._props
        await self.element.update()

    async def failed(self, message: str) -> None:
        base = {"provider": self.provider, "provider_title": provider_title(self.provider)}
        update = {"state": "failed", "message": clean(message), "open_url": None, "user_code": None}
        if self._props:
            await self.set(update)
        else:
            await self.show(base | update)


async def _race(flow: Flow, work: Awaitable[Connected] | None, timeout_s: float) -> Connected | str:
    """The flow's outcome: `work` finishing, the callback route, Cancel, or the time limit."""

    async def run(job: Awaitable[Connected]) -> None:
        try:
            flow.finish(await job)
        except Exception as error:  # shown on the card as a next step, never a traceback
            flow.finish(failure_text(error, provider=flow.provider))

    task = asyncio.create_task(run(work)) if work is not None else None
    try:
        return await asyncio.wait_for(asyncio.shield(flow.done), timeout=max(timeout_s, 1.0))
    except TimeoutError:
        return (
            f"No approval came from {provider_title(flow.provider)} in time; nothing was connected."
        )
    finally:
        if task is not None:
            task.cancel()
        FLOWS.close(flow)


def failure_text(error: BaseException, *, provider: str) -> str:
    """What the card says when a connect fails: the provider's reason and the next step."""
    from tools.clients.errors import ProviderError

    if isinstance(error, ProviderError | VaultError):
        return clean(str(error))
    _log.error("connect %s failed: %s", provider, type(error).__name__, exc_info=error)
    return (
        f"Connecting {provider_title(provider)} failed on this server ({type(error).__name__})."
        " Press Connect again, or paste a key instead."
    )


async def _device(
    connections: Connections, card: ConnectCard, user_id: str, *, now: Callable[[], datetime]
) -> Connected | str:
    flow = FLOWS.open(user_id, card.provider, "device")
    try:
        start = await connections.start_device(user_id)
    except Exception as error:
        FLOWS.close(flow)
        return failure_text(error, provider=card.provider)
    await card.show(device_props(start, provider=card.provider, flow_id=flow.id))
    left = (start.expires_at - now()).total_seconds()
    return await _race(flow, connections.finish_device(user_id, start.flow_id), left)


async def _redirect(
    option: ConnectOption, card: ConnectCard, user_id: str, *, now: Callable[[], datetime],
    wait_s: float,
) -> Connected | str:  # fmt: skip
    flow = FLOWS.open(user_id, option.provider, option.method)
    expires = now() + timedelta(seconds=min(wait_s, FLOW_TTL_S))
    await card.show(redirect_props(option, flow_id=flow.id, expires_at=expires))
    return await _race(flow, None, min(wait_s, FLOW_TTL_S))


class Connector:
    """Connect for one user, as the key card and the keys panel use it."""

    def __init__(self, root: Root, user_id: str) -> None:
        self._root = root
        self._user_id = user_id

    def option(self, provider: str) -> ConnectOption | None:
        """How `provider` connects on this server (None: it has no Connect at all)."""
        return self._root.connections.options().get(provider)

    async def run(self, provider: str) -> Connected | str:
        """Run the provider's flow in a card of its own: the connection, or why not (the
        card says so too)."""
        root, card = self._root, ConnectCard(provider)
        option = self.option(provider)
        if option is None or not option.available:
            reason = f"Connecting {provider_title(provider)} is not set up on this server."
            await card.failed(f"{reason} Paste a key instead.")
            return reason
        since = root.clock()
        if option.method == "device":
            outcome = await _device(root.connections, card, self._user_id, now=root.clock)
        else:
            wait_s = float(root.settings.ask_timeout_s)
            outcome = await _redirect(option, card, self._user_id, now=root.clock, wait_s=wait_s)
        if isinstance(outcome, str):
            outcome = await self._stored_since(provider, since) or outcome
        if isinstance(outcome, str):
            await card.failed(outcome)
        else:
            await card.set(connected_props(outcome, now=root.clock()))
        return outcome

    async def _stored_since(self, provider: str, since: datetime) -> Connected | None:
        """A connection that completed on another instance while this card waited."""
        from tools.connect import Connected

        try:
            view = await self._root.vault.credentials.describe(self._user_id, provider)
        except VaultError:
            return None
        checked = view.last_validated_at
        if view.connected_via is None or checked is None or checked < since:
            return None
        title = provider_title(provider)
        return Connected(
            provider=provider, tail=view.tail, identity=view.identity, scopes=view.scopes,
            expires_at=view.expires_at, limits=view.limits,
            message=f"{title} connected" + (f" as {view.identity}" if view.identity else ""),
        )  # fmt: skip

    async def disconnect(self, provider: str) -> str:
        return await self._root.connections.disconnect(self._user_id, provider)
