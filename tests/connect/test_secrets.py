"""Every token a provider issued during the Connect flows (access and refresh tokens, the
OpenRouter key, GitHub's device code) appears, in no encoding, in any audit row, stored
flow state, log line, repr, result or error message."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import text

from tests.connect.conftest import Clock, approve_in_browser
from tools.connect import Connected, Connections, ReconnectNeeded
from tools.simulator.all import FakeStack
from vault import Vault
from vault.redact import encoded_forms


async def _redirect(
    connections: Connections, http: httpx.AsyncClient, user: str, provider: str
) -> Connected:
    url = await connections.begin_redirect(user, provider, session_id="s")
    back = await approve_in_browser(http, url)
    return await connections.complete_redirect(
        provider, state=back["state"], code=back["code"], user_id=user, session_id="s"
    )


async def _stored_text(vault: Vault) -> str:
    async with vault.engine.connect() as conn:
        found: list[str] = []
        for table in ("credentials", "audit_events", "oauth_pending"):
            rows = await conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            found += [" ".join(repr(value) for value in row) for row in rows]
    return "\n".join(found)


def _planted(fakes: FakeStack) -> list[str]:
    issued = [*fakes.github.oauth.issued, *fakes.vercel.oauth.issued,
              *fakes.netlify.oauth.issued, *fakes.openrouter.oauth.issued]  # fmt: skip
    tokens = [t for row in issued for t in (row.access, row.refresh) if t]
    return tokens + list(fakes.github.device)  # the device codes


async def test_no_token_reaches_an_audit_row_a_log_or_a_message(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, vault: Vault,
    user: str, clock: Clock, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    said: list[str] = []
    start = await connections.start_device(user)
    said += [repr(start), repr(await connections.finish_device(user, start.flow_id))]
    said.append(await connections.disconnect(user, "github"))
    said += [repr(await _redirect(connections, http, user, p)) for p in ("github", "vercel",
                                                                         "openrouter")]  # fmt: skip
    clock.advance(hours=7, minutes=56)
    await connections.token(user, "github")  # refreshed
    grant = await vault.credentials.grant(user, "github")
    assert grant.refresh is not None
    fakes.github.oauth.revoke_refresh(grant.refresh.get_secret_value())
    clock.advance(hours=8)
    with pytest.raises(ReconnectNeeded) as caught:
        await connections.token(user, "github")
    said += [str(caught.value), repr(caught.value), repr(connections), repr(grant)]
    said += [await connections.disconnect(user, p) for p in ("vercel", "openrouter")]
    said += [v.model_dump_json() for v in await vault.credentials.list(user)]
    planted = _planted(fakes)
    assert len(planted) >= 8
    haystack = "\n".join([await _stored_text(vault), caplog.text, *said])
    for secret in planted:
        for form in encoded_forms(secret):
            assert form not in haystack, f"a token leaked as {form[:6]}..."
