"""Scopes are checked before the work that needs them, live and for free: a GitHub token
without `write:packages` stops a GHCR push (and the endpoint's approval card) with one
message that names the scope and offers to reconnect; a Vercel connection that no longer
works stops a web deploy before any project exists. Both errors are `AuthError`s, which
the agent and the pipeline already turn into "ask the user for a new key"."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from tests.connect.conftest import approve_in_browser
from tools.artifacts.client import EndpointInfo
from tools.artifacts.webapp import AppSpec
from tools.clients.errors import AuthError
from tools.connect import Connections, MissingScopes, ReconnectNeeded
from tools.pipeline.services import GhcrRegistry
from tools.publish.service import LivePublishing
from tools.simulator.all import FakeStack
from tools.simulator.github import DEFAULT_TOKEN as CLASSIC_TOKEN
from tools.simulator.images import SimulatedImages, SimulatedRegistry
from tools.simulator.runpod import DEFAULT_KEY
from vault import Settings, Vault


async def _device(connections: Connections, user: str) -> None:
    await connections.finish_device(user, (await connections.start_device(user)).flow_id)


async def test_a_token_without_write_packages_is_stopped_before_the_image_push(
    connections: Connections, fakes: FakeStack, vault: Vault, user: str
) -> None:
    fakes.github.oauth.grant_scopes = ("repo",)  # the person's token lacks packages
    await _device(connections, user)
    registry, images = GhcrRegistry(vault, connections), SimulatedImages(SimulatedRegistry())
    with pytest.raises(MissingScopes) as caught:
        await registry.login(user)  # the build step logs in before it builds or pushes
    error = caught.value
    assert isinstance(error, AuthError) and error.provider == "github"
    assert error.missing == ("write:packages",)
    assert str(error) == (
        "Your GitHub credential lacks the write:packages scope that pushing worker images to "
        "GHCR needs. Connect GitHub again (the Connect button asks for write:packages), or "
        "paste a key that has it; nothing was spent."
    )
    assert images.registry.images == {}  # nothing was pushed
    await _device(connections, user)  # reconnected, with every scope asked this time
    login = await registry.login(user)
    assert login.username == "octo-tester" and login.server == "ghcr.io"


async def test_a_github_app_token_cannot_push_to_ghcr_and_is_told_why(
    connections: Connections, http: httpx.AsyncClient, vault: Vault, user: str
) -> None:
    back = await approve_in_browser(
        http, await connections.begin_redirect(user, "github", session_id="s")
    )
    await connections.complete_redirect(
        "github", state=back["state"], code=back["code"], user_id=user, session_id="s"
    )
    await connections.require_scopes(user, "github", {"repo"})  # repos: fine
    with pytest.raises(MissingScopes, match="connect through the device flow"):
        await GhcrRegistry(vault, connections).check(user)


async def test_a_pasted_classic_token_with_the_scopes_passes(
    connections: Connections, vault: Vault, user: str
) -> None:
    await vault.credentials.add(user, "github", SecretStr(CLASSIC_TOKEN))
    await connections.require_scopes(user, "github", {"repo"})
    with pytest.raises(MissingScopes):  # the fake's classic token has repo, workflow only
        await connections.require_scopes(user, "github", {"repo", "ghcr"})


async def test_a_dead_vercel_connection_stops_a_web_deploy_before_anything_is_created(
    connections: Connections, http: httpx.AsyncClient, fakes: FakeStack, vault: Vault,
    settings: Settings, user: str,
) -> None:  # fmt: skip
    back = await approve_in_browser(
        http, await connections.begin_redirect(user, "vercel", session_id="s")
    )
    await connections.complete_redirect(
        "vercel", state=back["state"], code=back["code"], user_id=user, session_id="s"
    )
    await vault.credentials.add(user, "runpod", SecretStr(DEFAULT_KEY))
    grant = await vault.credentials.grant(user, "vercel")
    fakes.vercel.oauth.expire_access(grant.access.get_secret_value())  # revoked at Vercel
    publishing = LivePublishing(vault, settings, http, connections=connections)
    endpoint = EndpointInfo(endpoint_id="ep-123", model_id="facebook/detr-resnet-50")
    spec = AppSpec(kind="generic", project="demo", title="Demo", endpoint=endpoint)
    fakes.vercel.calls.clear()
    with pytest.raises(ReconnectNeeded, match="Connect Vercel again"):
        await publishing.deploy(user, spec, host="vercel", name="demo")
    assert [c.route for c in fakes.vercel.calls] == ["GET /v2/user"]  # the free check only
    assert (await vault.credentials.describe(user, "vercel")).needs_reconnect
