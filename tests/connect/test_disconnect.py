"""Disconnect: the token is revoked at the provider where the provider allows it (the fake
then refuses it), deleted from the vault, and the audit says "disconnected" and whether
it was revoked; where the provider offers no revocation, the user is told where to remove
the app."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from pydantic import SecretStr

from tests.connect.conftest import approve_in_browser
from tests.services.kriptik import cli_env, kriptik
from tools.connect import Connections
from tools.connect.models import TITLES
from tools.simulator.all import FakeStack
from vault import CredentialNotFound, Settings, Vault
from vault.audit import CREDENTIALS_THREAD


async def _redirect(
    connections: Connections, http: httpx.AsyncClient, user: str, provider: str
) -> None:
    back = await approve_in_browser(
        http, await connections.begin_redirect(user, provider, session_id="s")
    )
    await connections.complete_redirect(
        provider, state=back["state"], code=back["code"], user_id=user, session_id="s"
    )


async def _last_row(vault: Vault, user: str) -> tuple[str | None, dict[str, object]]:
    row = (await vault.audit.records(thread_id=CREDENTIALS_THREAD, user_id=user))[-1]
    return row.tool, json.loads(row.args or "{}")


@pytest.mark.parametrize("provider", ["github", "vercel"])
async def test_disconnect_revokes_at_the_provider_and_deletes(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, vault: Vault,
    user: str, provider: str,
) -> None:  # fmt: skip
    await _redirect(connections, http, user, provider)
    grant = await vault.credentials.grant(user, provider)
    oauth = fakes.github.oauth if provider == "github" else fakes.vercel.oauth
    assert oauth.live(grant.access.get_secret_value())
    said = await connections.disconnect(user, provider)
    assert (
        said == f"{TITLES[provider]} revoked and disconnected; the token is deleted from KripTik."
    )
    assert not oauth.live(grant.access.get_secret_value())
    assert grant.refresh is not None and not oauth.live(grant.refresh.get_secret_value())
    with pytest.raises(CredentialNotFound):
        await vault.credentials.grant(user, provider)
    assert await _last_row(vault, user) == (
        "credential_disconnected",
        {"provider": provider, "label": "default", "tail": grant.tail, "actor": "user",
         "revoked": True},
    )  # fmt: skip


async def test_a_device_flow_token_is_revoked_with_the_oauth_app(
    connections: Connections, fakes: FakeStack, vault: Vault, user: str
) -> None:
    await connections.finish_device(user, (await connections.start_device(user)).flow_id)
    token = (await vault.credentials.get(user, "github")).get_secret_value()
    assert "revoked" in await connections.disconnect(user, "github")
    assert not fakes.github.oauth.live(token)


async def test_netlify_offers_no_revocation_so_the_user_is_told_where(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, vault: Vault, user: str
) -> None:
    await _redirect(connections, http, user, "netlify")
    said = await connections.disconnect(user, "netlify")
    assert said.startswith("Netlify disconnected")
    assert "app.netlify.com/user/applications" in said
    tool, facts = await _last_row(vault, user)
    assert tool == "credential_disconnected" and "revoked" not in facts


async def test_a_revocation_that_fails_still_deletes_and_says_so(
    connections: Connections, http: httpx.AsyncClient, vault: Vault, user: str
) -> None:
    await _redirect(connections, http, user, "vercel")
    settings = connections._settings  # pyright: ignore[reportPrivateUsage]
    unreachable = settings.model_copy(update={"vercel_base_url": "http://127.0.0.1:9"})
    said = await Connections(vault, unreachable, http).disconnect(user, "vercel")
    assert "could not be revoked at Vercel" in said
    assert await vault.credentials.list(user) == []
    assert (await _last_row(vault, user))[1]["revoked"] is False


async def test_a_pasted_key_is_simply_removed(
    connections: Connections, vault: Vault, user: str
) -> None:
    await vault.credentials.add(user, "vercel", SecretStr("pasted_vercel_token_1234"))
    assert await connections.disconnect(user, "vercel") == (
        "Vercel key ending in 1234 removed from KripTik."
    )
    assert (await _last_row(vault, user))[0] == "credential_removed"


async def test_the_cli_revokes_a_connected_account_it_removes(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, vault: Vault,
    settings: Settings, user: str,
) -> None:  # fmt: skip
    """`kriptik keys remove vercel`, run as a user would, disconnects: revoked at Vercel."""
    await _redirect(connections, http, user, "vercel")
    grant = await vault.credentials.grant(user, "vercel")
    fields = {**fakes.settings_fields(), **fakes.oauth_settings_fields(),
              "database_url": settings.database_url, "public_url": settings.public_url}  # fmt: skip
    env = cli_env(settings.home, **{f"KRIPTIK_{k.upper()}": str(v) for k, v in fields.items()})
    assert settings.master_key is not None
    env["KRIPTIK_MASTER_KEY"] = settings.master_key.get_secret_value()
    removed = await asyncio.to_thread(kriptik, "keys", "remove", "vercel", "--user", "ann", env=env)
    assert removed.returncode == 0, removed.stderr
    assert "Vercel revoked and disconnected" in removed.stdout
    assert not fakes.vercel.oauth.live(grant.access.get_secret_value())
    with pytest.raises(CredentialNotFound):
        await vault.credentials.grant(user, "vercel")
