"""The /keys and /deployments panels: custom elements whose buttons call back here.

A panel's props carry its own element id and message id, so a button's callback can send
the panel new props in place. Every callback acts for the session's user only: payloads
come from the browser, so they name what to act on, never whose it is.
"""

from __future__ import annotations

# Chainlit's elements and actions are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
import asyncio
import dataclasses
import logging
import time
from collections.abc import Collection, Coroutine, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import chainlit as cl

from tools.credentials import check_stored_key, save_key
from tools.onboarding import ONBOARDING, connect_method_label
from tools.pipeline.cost import refresh, spent_text
from tools.sizing import pool_label
from ui.web import deployments
from ui.web.connect import Connector
from ui.web.connect_cards import option_props, when
from ui.web.render import clean
from ui.web.secret_entry import collect_key, form_for
from ui.web.titles import provider_title
from vault import CredentialNotFound, CredentialView, VaultError
from vault.deployments import DeploymentView

if TYPE_CHECKING:
    from ui.root import Root

_log = logging.getLogger(__name__)
KEYS: Final = "KeysPanel"
DEPLOYMENTS: Final = "DeploymentsPanel"
_BACKGROUND: set[asyncio.Task[None]] = set()


def ago(when: datetime | None, *, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"on {when:%Y-%m-%d}"


def _state(view: CredentialView, *, now: datetime) -> tuple[str, str]:
    """The row's badge: its tone and its words."""
    if view.needs_reconnect:
        return "reconnect", "Needs reconnect"
    if view.validation_ok is True:
        return "ok", f"Validated {ago(view.last_validated_at, now=now)}"
    if view.validation_ok is False:
        return "bad", f"Rejected {ago(view.last_validated_at, now=now)}"
    return "", "Not validated"


def via_line(view: CredentialView, *, now: datetime) -> str | None:
    """ "Connected via GitHub device flow · token expires in 7 h (...), renewed by itself"."""
    if view.connected_via is None:
        return None
    line = f"Connected via {connect_method_label(view.provider, view.connected_via)}"
    if view.needs_reconnect:
        return f"{line} · its renewal failed: connect it again"
    if view.expires_at is not None:
        line += f" · token expires {when(view.expires_at, now=now)}, renewed by itself"
    return line


def key_row(view: CredentialView, *, now: datetime, can_connect: bool = False) -> dict[str, Any]:
    state, status = _state(view, now=now)
    detail = [f"as {view.identity}"] if view.identity else []
    detail += [f"scopes: {', '.join(view.scopes)}"] if view.scopes else []
    if view.validation_ok is False and view.validation_message:
        detail.append(view.validation_message)
    verb = "connected" if view.connected_via else "added"
    detail.append(f"{verb} {ago(view.created_at, now=now)}")
    return {
        "provider": view.provider, "label": view.label, "title": provider_title(view.provider),
        "masked": view.masked, "state": state, "status": status,
        "detail": clean(" · ".join(detail)), "via": via_line(view, now=now),
        "connected": view.connected_via is not None, "needs_reconnect": view.needs_reconnect,
        "can_connect": can_connect,
    }  # fmt: skip


def keys_props(
    views: list[CredentialView], *, now: datetime, connectable: Collection[str] = ()
) -> dict[str, Any]:
    """The panel's rows, and what can be added: `connectable`, the providers whose Connect
    is available on this server."""
    stored = {v.provider for v in views}
    missing = [
        {"provider": p, "title": o.title, "can_connect": p in connectable}
        for p, o in ONBOARDING.items() if p not in stored
    ]  # fmt: skip
    rows = [key_row(v, now=now, can_connect=v.provider in connectable) for v in views]
    return {"keys": rows, "missing": missing}


def _connectable(root: Root) -> set[str]:
    options = root.connections.options()
    return {provider for provider, option in options.items() if option.available}


def _money(usd: float) -> str:
    return f"${usd:,.2f}"


def deployment_row(view: DeploymentView, *, now: datetime | None = None) -> dict[str, Any]:
    hourly = view.usd_per_second * 3600
    idle = hourly * view.workers_min
    resources = [r for r in (view.endpoint_id and f"endpoint {view.endpoint_id}",
                             view.template_id and "its template") if r]  # fmt: skip
    pools = ", ".join(map(pool_label, view.gpu_pools)) or "no GPU chosen"
    return {
        "id": view.id,
        "name": view.repo_id,
        "state": "ready"
        if view.state == "ready"
        else ("failed" if view.state == "failed" else "busy"),
        "status": view.state.replace("_", " "),
        "detail": clean(
            f"{view.endpoint_id or 'no endpoint yet'} · {view.gpu_count}x {pools} · "
            f"{view.workers_min} to {view.workers_max} workers · spent {spent_text(view)}"
        ),
        "idle": f"{_money(idle)}/h" + (" (scales to zero)" if view.workers_min == 0 else ""),
        "running": f"{_money(hourly)}/h per worker",
        "resources": " and ".join(resources) or "its records",
        "can_teardown": view.state not in ("tearing_down", "torn_down"),
        "idle_usd": idle,
    } | deployments.lifetime_fields(view, now=now or datetime.now(UTC))


def deployments_props(
    views: list[DeploymentView], *, now: datetime | None = None
) -> dict[str, Any]:
    shown = [v for v in views if v.state != "torn_down" and (v.live or v.endpoint_id)]
    rows = [deployment_row(v, now=now) for v in shown]
    total = sum(row.pop("idle_usd") for row in rows)
    return {"deployments": rows, "idle_total": f"{_money(total)}/h idle"}


class _Panel:
    """A panel element that can be re-sent with new props."""

    def __init__(self, name: str, props: dict[str, Any], *, ids: Mapping[str, Any] | None = None):
        self.message_id = str((ids or {}).get("message_id") or "")
        self.element = cl.CustomElement(name=name, props={}, display="inline")
        if ids and ids.get("panel_id"):
            self.element.id = str(ids["panel_id"])
        self.element.for_id = self.message_id or None
        self.set(props)

    def set(self, props: dict[str, Any]) -> None:
        # A new version on every send ends the element's busy state (its useEffect).
        ids = {
            "panel_id": self.element.id,
            "message_id": self.message_id,
            "version": time.time_ns(),
        }
        self.element.props = {**props, **ids}

    async def show(self, content: str) -> None:
        message = cl.Message(content=content, elements=[self.element])
        self.message_id = message.id
        self.element.for_id = message.id
        self.set(self.element.props)
        await message.send()

    async def refresh(self, props: dict[str, Any]) -> None:
        self.set(props)
        await self.element.update()


async def show_keys(root: Root, user_id: str, *, message: str | None = None) -> None:
    views = await root.vault.credentials.list(user_id)
    props = keys_props(views, now=root.clock(), connectable=_connectable(root))
    props |= {"message": message}
    await _Panel(KEYS, props).show(
        "Your keys are encrypted on this server; only their last 4 characters are shown."
    )


async def _refresh_keys(root: Root, user_id: str, ids: Mapping[str, Any], message: str) -> None:
    views = await root.vault.credentials.list(user_id)
    props = keys_props(views, now=root.clock(), connectable=_connectable(root))
    props |= {"message": clean(message)}
    await _Panel(KEYS, props, ids=ids).refresh(props)


async def _replace(root: Root, user_id: str, provider: str, ids: Mapping[str, Any]) -> None:
    async def save(secret: Any) -> Any:
        return await save_key(
            root.vault, root.settings, root.http, user_id=user_id, provider=provider,
            secret=secret, metrics=root.metrics,
        )  # fmt: skip

    connector = Connector(root, user_id)
    reason = f"This replaces your stored {provider_title(provider)} key."
    form = form_for(provider, reason=reason, connect=option_props(connector.option(provider)))  # pyright: ignore[reportArgumentType]
    if provider == "aws":  # the role first: the user's external id and template
        from tools.aws_onboarding import role_setup

        if setup := role_setup(user_id, root.settings.aws_principal_arn):
            form = dataclasses.replace(form, aws_role=setup.props())
    result = await collect_key(
        form, save, wait_s=root.settings.ask_timeout_s, connect=lambda: connector.run(provider)
    )
    note = result.message if result else f"{provider_title(provider)} key unchanged."
    await _refresh_keys(root, user_id, ids, note)


async def _connect(root: Root, user_id: str, provider: str, ids: Mapping[str, Any]) -> None:
    """The panel's Connect (or Reconnect): the flow in a card of its own, then the panel."""
    outcome = await Connector(root, user_id).run(provider)
    await _refresh_keys(
        root, user_id, ids, outcome if isinstance(outcome, str) else outcome.message
    )


def _in_background(work: Coroutine[Any, Any, None]) -> None:
    """A button whose work waits for the person: the button's request must not wait."""
    task = asyncio.create_task(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


async def on_key_action(root: Root, user_id: str, payload: Mapping[str, Any]) -> None:
    """Re-validate, replace, add, remove, connect or disconnect one of the user's keys."""
    op, provider = str(payload.get("op")), str(payload.get("provider", ""))
    label = str(payload.get("label") or "default")
    try:
        if op == "revalidate":
            result = await check_stored_key(
                root.vault, root.settings, root.http, user_id=user_id, provider=provider,
                label=label, metrics=root.metrics,
            )  # fmt: skip
            await _refresh_keys(root, user_id, payload, result.message)
        elif op == "remove":
            await root.vault.credentials.remove(user_id, provider, label=label)
            await _refresh_keys(root, user_id, payload, f"{provider_title(provider)} key removed.")
        elif op == "disconnect":
            note = await Connector(root, user_id).disconnect(provider)
            await _refresh_keys(root, user_id, payload, note)
        elif op == "connect" and provider in ONBOARDING:
            note = f"Connecting {provider_title(provider)}: follow the card below."
            await _refresh_keys(root, user_id, payload, note)
            _in_background(_connect(root, user_id, provider, payload))
        elif op in ("replace", "add") and provider in ONBOARDING:
            _in_background(_replace(root, user_id, provider, payload))
        elif op in ("replace", "add"):
            note = f"Add {provider} credentials with `kriptik keys add {provider}`."
            await _refresh_keys(root, user_id, payload, note)
    except (CredentialNotFound, VaultError) as error:
        await _refresh_keys(root, user_id, payload, str(error))


async def deployments_now(root: Root, user_id: str) -> list[DeploymentView]:
    """The user's deployments, their cost accrued up to now and RunPod's bill read, where
    the pipeline runs here (it holds the RunPod access); else as last recorded."""
    pipeline = root.pipeline.now()
    if pipeline is None:
        return await root.deployments.list(user_id)
    return await refresh(pipeline.services, user_id)


async def show_deployments(root: Root, user_id: str) -> None:
    views = await deployments_now(root, user_id)
    await _Panel(DEPLOYMENTS, deployments_props(views, now=root.clock())).show(
        "Deployments that exist on your accounts, and what they cost while idle."
    )


async def on_deployment_action(root: Root, user_id: str, payload: Mapping[str, Any]) -> None:
    """Tear down or extend one of the user's deployments (owner-checked by the pipeline)."""
    deployment_id = str(payload.get("id", ""))
    if payload.get("op") == "extend":
        note = await deployments.extend(root, user_id, deployment_id)
        views = await root.deployments.list(user_id)
        props = deployments_props(views, now=root.clock()) | {"message": clean(note)}
        await _Panel(DEPLOYMENTS, props, ids=payload).refresh(props)
        return
    try:
        from tools.pipeline.api import teardown

        report = await teardown(await root.pipeline.ready(), user_id, deployment_id)
        note = report.text()
    except RuntimeError:
        note = "Deployments are not enabled on this server, so nothing was torn down."
    except VaultError as error:
        note = str(error)
    except Exception:
        _log.exception("teardown of %s failed", deployment_id)
        note = "Teardown failed part-way; open /deployments again to see what is left."
    views = await root.deployments.list(user_id)
    props = deployments_props(views, now=root.clock()) | {"message": clean(note)}
    await _Panel(DEPLOYMENTS, props, ids=payload).refresh(props)
