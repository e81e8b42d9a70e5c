"""What the Connect UI shows and keeps, as pure functions and the flow registry: the keys
panel's connected rows, the onboarding's connect facts, and the pending flows that the
browser's callback and the waiting card meet in (owner-only, single outcome)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tools.onboarding import ONBOARDING, connect_method_label, scope_meaning
from ui.web.connect import Flows
from ui.web.connect_cards import limit_facts, scope_rows, start_path, when
from ui.web.panels import key_row, keys_props
from vault import CredentialView

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _view(**fields: object) -> CredentialView:
    base = {
        "provider": "github", "label": "default", "tail": "ab12", "created_at": NOW - timedelta(hours=2),
        "last_used_at": None, "last_validated_at": NOW - timedelta(minutes=5), "validation_ok": True,
        "validation_message": "ok", "identity": "octo", "scopes": ["repo", "write:packages"],
        "limits": {},
    }  # fmt: skip
    return CredentialView.model_validate(base | fields)


def test_a_connected_row_says_how_and_until_when_and_offers_disconnect() -> None:
    row = key_row(
        _view(connected_via="github_app", expires_at=NOW + timedelta(hours=7)),
        now=NOW, can_connect=True,
    )  # fmt: skip
    assert row["connected"] and not row["needs_reconnect"] and row["can_connect"]
    assert row["via"] == (
        "Connected via GitHub App · token expires in 7 h (2026-11-27 19:00 UTC), renewed by itself"
    )
    assert row["detail"] == "as octo · scopes: repo, write:packages · connected 2 h ago"
    assert row["masked"] == "••••ab12" and row["state"] == "ok"


def test_a_failed_renewal_is_badged_needs_reconnect() -> None:
    row = key_row(_view(connected_via="device", needs_reconnect=True), now=NOW)
    assert row["state"] == "reconnect" and row["status"] == "Needs reconnect"
    assert row["via"] == "Connected via GitHub device flow · its renewal failed: connect it again"


def test_a_pasted_key_has_no_via_line() -> None:
    row = key_row(_view(provider="runpod", scopes=[]), now=NOW)
    assert row["via"] is None and not row["connected"]
    assert row["detail"].endswith("added 2 h ago")


def test_missing_providers_say_which_can_be_connected() -> None:
    props = keys_props([_view()], now=NOW, connectable={"github", "vercel", "openrouter"})
    missing = {m["provider"]: m["can_connect"] for m in props["missing"]}
    assert missing == {
        "openrouter": True, "huggingface": False, "runpod": False, "vercel": True,
        "netlify": False, "gcp": False, "aws": False,
    }  # fmt: skip
    assert props["keys"][0]["can_connect"] is True


def test_the_github_card_asks_for_the_packages_scope_too() -> None:
    github = ONBOARDING["github"]
    assert github.scopes == ("repo", "write:packages")
    assert "scopes=repo,write:packages" in github.keys_url
    assert github.placeholder == "GITHUB_TOKEN stored"  # what the model learns: unchanged
    assert connect_method_label("github", "device") == "GitHub device flow"
    assert connect_method_label("vercel", "oauth") == "Sign in with Vercel"
    assert connect_method_label("acme", "magic_link") == "magic link"
    assert scope_meaning("write:packages") and scope_meaning("nonsense") is None
    assert scope_rows(("repo", "x")) == [
        {"name": "repo", "meaning": "create a repository and push the app's code"},
        {"name": "x", "meaning": ""},
    ]


def test_an_openrouter_key_shows_its_limit_and_credit() -> None:
    assert limit_facts({"limit": 10.0, "limit_remaining": 9.5, "usage": 0.5}) == [
        {"label": "Spending limit", "value": "$10.00"},
        {"label": "Credit left", "value": "$9.50"},
        {"label": "Used so far", "value": "$0.50"},
    ]
    assert limit_facts({"limit": None, "limit_remaining": None, "usage": 0}) == [
        {"label": "Spending limit", "value": "No limit set"},
        {"label": "Used so far", "value": "$0.00"},
    ]
    assert limit_facts({"role": "admin"}) == []


def test_expiry_wording() -> None:
    assert when(None, now=NOW) == "does not expire"
    assert when(NOW + timedelta(minutes=30), now=NOW) == "in 30 min (2026-11-27 12:30 UTC)"
    assert when(NOW - timedelta(minutes=1), now=NOW).startswith("expired")


async def test_a_flow_is_its_owners_only_and_ends_once() -> None:
    flows = Flows()
    flow = flows.open("alice", "vercel", "oauth")
    assert start_path("vercel", flow.id) == f"/connect/vercel/start?flow={flow.id}"
    assert flows.get(flow.id, user_id="mallory") is None
    assert flows.get(flow.id, user_id="alice") is flow
    flow.binding = "binding-value"
    assert flows.bound("binding-value", user_id="mallory", provider="vercel") is None
    assert flows.bound("binding-value", user_id="alice", provider="netlify") is None
    assert flows.bound("binding-value", user_id="alice", provider="vercel") is flow
    assert flows.bound("other", user_id="alice", provider="vercel") is None
    flow.finish("Cancelled: Vercel was not connected.")
    flow.finish("a second outcome is ignored")
    assert await flow.done == "Cancelled: Vercel was not connected."
    assert flows.get(flow.id, user_id="alice") is None  # ended: the link no longer works
