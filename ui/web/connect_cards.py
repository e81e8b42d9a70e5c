"""What the Connect cards show, as pure functions of the connect service's answers: the
key card's `connect` prop (SecretInput.jsx) and each state of the flow's own card
(ConnectFlow.jsx). Nothing here is secret: these become element props, which are stored
with the thread."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from tools.onboarding import connect_method_label, scope_meaning
from ui.web.render import clean
from ui.web.titles import provider_title

if TYPE_CHECKING:
    from tools.connect import Connected, ConnectOption, DeviceStart

__all__ = [
    "FLOW_TTL_S",
    "connected_props",
    "device_props",
    "limit_facts",
    "option_props",
    "redirect_props",
    "scope_rows",
    "start_path",
    "when",
]

FLOW_TTL_S: Final = 600  # how long a redirect card's link works (the OAuth state's life)


def scope_rows(scopes: tuple[str, ...] | list[str]) -> list[dict[str, str]]:
    """Each scope asked for, with what it lets KripTik do (where known)."""
    return [{"name": s, "meaning": scope_meaning(s) or ""} for s in scopes]


def option_props(option: ConnectOption | None) -> dict[str, Any] | None:
    """The key card's `connect` prop: None where the provider has no Connect at all."""
    if option is None:
        return None
    return {
        "available": option.available,
        "method": option.method,
        "method_label": connect_method_label(option.provider, option.method),
        "scopes": scope_rows(option.scopes),
        "how_to_enable": "" if option.available else clean(option.how_to_enable),
    }


def _money(value: object) -> str | None:
    return f"${value:,.2f}" if isinstance(value, int | float) else None


def limit_facts(limits: Mapping[str, Any]) -> list[dict[str, str]]:
    """An OpenRouter key's limit and credit, as the card's facts."""
    if not {"limit", "limit_remaining", "usage"} & limits.keys():
        return []
    limit = _money(limits.get("limit"))
    facts = [{"label": "Spending limit", "value": limit or "No limit set"}]
    if limit and (left := _money(limits.get("limit_remaining"))):
        facts.append({"label": "Credit left", "value": left})
    if (used := _money(limits.get("usage"))) is not None:
        facts.append({"label": "Used so far", "value": used})
    return facts


def when(moment: datetime | None, *, now: datetime) -> str:
    """ "in 7 h (2026-11-27 20:00 UTC)" for an expiry; "does not expire" for None."""
    if moment is None:
        return "does not expire"
    left = moment - now
    if left <= timedelta(0):
        return f"expired {moment:%Y-%m-%d %H:%M} UTC"
    hours = left.total_seconds() / 3600
    span = f"{int(left.total_seconds() // 60)} min" if hours < 1 else f"{int(hours)} h"
    return f"in {span} ({moment:%Y-%m-%d %H:%M} UTC)"


def connected_props(connected: Connected, *, now: datetime) -> dict[str, Any]:
    # OpenRouter names a key, not an account: its label ("sk-or-v1-ab1...f93").
    who = "Key label" if connected.provider == "openrouter" else "Account"
    facts = [{"label": who, "value": connected.identity}] if connected.identity else []
    facts.append({"label": "Stored", "value": f"ends in {connected.tail}, encrypted"})
    if connected.expires_at is not None:
        facts.append({"label": "Token expires", "value": f"{when(connected.expires_at, now=now)}"
                      ", renewed by itself"})  # fmt: skip
    facts += limit_facts(connected.limits)
    return {
        "state": "connected", "message": clean(connected.message),
        "scopes": scope_rows(connected.scopes), "facts": facts,
        "expires_at": None, "open_url": None, "user_code": None,
    }  # fmt: skip


def device_props(start: DeviceStart, *, provider: str, flow_id: str) -> dict[str, Any]:
    return {
        "kind": "device", "state": "waiting", "provider": provider,
        "provider_title": provider_title(provider),
        "method_label": connect_method_label(provider, "device"),
        "user_code": start.user_code, "verification_uri": start.verification_uri,
        "expires_at": start.expires_at.isoformat(), "scopes": scope_rows(start.scopes),
        "flow_id": flow_id,
    }  # fmt: skip


def redirect_props(option: ConnectOption, *, flow_id: str, expires_at: datetime) -> dict[str, Any]:
    provider = option.provider
    return {
        "kind": "redirect", "state": "waiting", "provider": provider,
        "provider_title": provider_title(provider),
        "method_label": connect_method_label(provider, option.method),
        "open_url": start_path(provider, flow_id), "expires_at": expires_at.isoformat(),
        "scopes": scope_rows(option.scopes), "flow_id": flow_id,
    }  # fmt: skip


def start_path(provider: str, flow_id: str) -> str:
    """This app's own link that starts a redirect flow (ui/web/connect_routes.py)."""
    return f"/connect/{provider}/start?flow={flow_id}"
