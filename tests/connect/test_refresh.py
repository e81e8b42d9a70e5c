"""Token use through `Connections.token`, against the fakes' token endpoints: a token about
to expire is refreshed (and the new one works); a revoked refresh token marks the
credential as needing reconnection, durably and audited, and raises `ReconnectNeeded`; a
provider outage during a refresh is not mistaken for a revoked grant."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from tests.connect.conftest import Clock, approve_in_browser
from tools.clients._http import Retry
from tools.clients.errors import AuthError, Unreachable
from tools.connect import Connections, ReconnectNeeded
from tools.simulator.all import FakeStack
from vault import Vault
from vault.audit import CREDENTIALS_THREAD


async def _connect(
    connections: Connections, http: httpx.AsyncClient, user: str, provider: str
) -> None:
    url = await connections.begin_redirect(user, provider, session_id="s")
    back = await approve_in_browser(http, url)
    await connections.complete_redirect(
        provider, state=back["state"], code=back["code"], user_id=user, session_id="s"
    )


@pytest.mark.parametrize(("provider", "lifetime"), [("github", 8 * 3600), ("vercel", 3600)])
async def test_an_expiring_token_is_refreshed_before_it_expires(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, vault: Vault,
    user: str, clock: Clock, provider: str, lifetime: int,
) -> None:  # fmt: skip
    await _connect(connections, http, user, provider)
    first = await vault.credentials.grant(user, provider)
    clock.advance(seconds=lifetime - 6 * 60)  # six minutes left: used as it is
    assert await connections.token(user, provider) == first.access
    clock.advance(seconds=2 * 60)  # four minutes left: refreshed first
    fresh = await connections.token(user, provider)
    assert fresh != first.access
    stored = await vault.credentials.grant(user, provider)
    assert stored.access == fresh and stored.refresh not in (None, first.refresh)
    assert stored.expires_at == clock.now + timedelta(seconds=lifetime)
    oauth = fakes.github.oauth if provider == "github" else fakes.vercel.oauth
    assert oauth.live(fresh.get_secret_value())
    assert first.refresh is not None and not oauth.live(first.refresh.get_secret_value())
    await connections.require_scopes(user, provider, set())  # the new token works
    rows = await vault.audit.records(thread_id=CREDENTIALS_THREAD, user_id=user)
    assert "credential_refreshed" in [r.tool for r in rows]


async def test_a_revoked_refresh_token_asks_for_reconnection_durably(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, vault: Vault,
    user: str, clock: Clock,
) -> None:  # fmt: skip
    await _connect(connections, http, user, "github")
    grant = await vault.credentials.grant(user, "github")
    assert grant.refresh is not None
    fakes.github.oauth.revoke_refresh(grant.refresh.get_secret_value())
    clock.advance(hours=8)
    with pytest.raises(ReconnectNeeded, match="Connect GitHub again") as caught:
        await connections.token(user, "github")
    assert isinstance(caught.value, AuthError) and caught.value.provider == "github"
    assert "bad_refresh_token" in caught.value.reason
    view = await vault.credentials.describe(user, "github")
    assert view.needs_reconnect and view.validation_ok is False
    rows = await vault.audit.records(thread_id=CREDENTIALS_THREAD, user_id=user)
    assert rows[-1].tool == "credential_refresh_failed" and rows[-1].outcome == "failed"
    # Durable: a new Connections (another instance, a restart) asks again, without a call.
    again = Connections(vault, connections._settings, http, clock=clock)  # pyright: ignore[reportPrivateUsage]
    calls = len(fakes.github.calls)
    with pytest.raises(ReconnectNeeded):
        await again.token(user, "github")
    assert len(fakes.github.calls) == calls
    await _connect(connections, http, user, "github")  # connecting again clears it
    assert not (await vault.credentials.describe(user, "github")).needs_reconnect


async def test_an_outage_during_a_refresh_keeps_the_token_while_it_lasts(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, vault: Vault,
    user: str, clock: Clock,
) -> None:  # fmt: skip
    await _connect(connections, http, user, "vercel")
    first = await vault.credentials.grant(user, "vercel")
    clock.advance(minutes=57)  # three minutes left; the token endpoint is unreachable
    settings = connections._settings  # pyright: ignore[reportPrivateUsage]
    unreachable = settings.model_copy(update={"vercel_base_url": "http://127.0.0.1:9"})
    offline = Connections(vault, unreachable, http, clock=clock, retry=Retry(max_attempts=1))
    assert await offline.token(user, "vercel") == first.access
    clock.advance(minutes=4)  # expired, and still unreachable: say so, mark nothing
    with pytest.raises(Unreachable):
        await offline.token(user, "vercel")
    assert not (await vault.credentials.describe(user, "vercel")).needs_reconnect


async def test_a_pasted_key_is_used_as_stored(
    connections: Connections, vault: Vault, user: str, clock: Clock
) -> None:
    key = SecretStr("rpa_TESTKEY0123456789abcdef7Hq2")
    await vault.credentials.add(user, "runpod", key)
    clock.advance(days=400)
    assert await connections.token(user, "runpod") == key
