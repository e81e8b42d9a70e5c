"""GitHub's device flow, through `Connections` and the real client against the GitHub fake:
the scopes the enabled features need, GitHub's pace (`authorization_pending`,
`slow_down`), and each way it ends: approved (validated, stored, audited), denied,
expired, or a flow that is not this user's."""

from __future__ import annotations

import json

import pytest

from tests.connect.conftest import Clock, Waits
from tools.clients.errors import OAuthFailed
from tools.connect import Connections
from tools.simulator.all import FakeStack
from tools.simulator.github_device_oauth import DevicePolicy
from vault import Vault
from vault.audit import CREDENTIALS_THREAD


async def test_a_device_flow_connects_github_with_the_scopes_the_features_need(
    connections: Connections, fakes: FakeStack, vault: Vault, user: str, waits: Waits
) -> None:
    start = await connections.start_device(user)
    assert start.scopes == ("repo", "write:packages")
    assert start.verification_uri.endswith("/login/device") and len(start.user_code) == 9
    connected = await connections.finish_device(user, start.flow_id)
    assert connected.identity == "octo-tester"
    assert set(connected.scopes) == {"repo", "write:packages"}
    assert connected.expires_at is None  # an OAuth app's token does not expire
    assert connected.message.startswith("GitHub connected as octo-tester through GitHub's")
    assert "scopes repo, write:packages" in connected.message
    assert waits.seconds == [5.0, 5.0, 5.0]  # two answers of authorization_pending, then the token
    view = await vault.credentials.describe(user, "github")
    assert (view.connected_via, view.validation_ok, view.tail) == ("device", True, connected.tail)
    rows = await vault.audit.records(thread_id=CREDENTIALS_THREAD, user_id=user)
    assert [r.tool for r in rows] == ["credential_connected", "credential_validated"]
    assert json.loads(rows[0].args or "{}")["via"] == "device"
    token = (await vault.credentials.get(user, "github")).get_secret_value()
    assert token.startswith("gho_") and fakes.github.oauth.live(token)


async def test_slow_down_is_obeyed(
    connections: Connections, fakes: FakeStack, user: str, waits: Waits
) -> None:
    fakes.github.device_policy = DevicePolicy(approve_after=3, slow_down_at=2)
    start = await connections.start_device(user)
    await connections.finish_device(user, start.flow_id)
    # pending, slow_down (GitHub says 10 s from now on), pending, then the token
    assert waits.seconds == [5.0, 5.0, 10.0, 10.0]


async def test_without_ghcr_only_repo_is_asked_and_the_github_app_is_offered(
    connections: Connections, user: str
) -> None:
    assert (connections.options()["github"].method, connections.options()["github"].scopes) == (
        "device",
        ("repo", "write:packages"),
    )  # GHCR takes classic tokens only: the device flow wins over the GitHub App
    narrow = connections.options({"repo"})["github"]
    assert (narrow.method, narrow.available) == ("github_app", True)
    assert "contents:write" in narrow.scopes
    connections.features = frozenset({"repo"})
    assert (await connections.start_device(user)).scopes == ("repo",)


@pytest.mark.parametrize(
    ("outcome", "says"),
    [
        ("access_denied", "cancelled"),
        ("expired_token", "expired before it was approved"),
        ("device_flow_disabled", "Enable Device Flow"),
    ],
)
async def test_a_device_flow_that_does_not_end_in_approval_stores_nothing(
    connections: Connections, fakes: FakeStack, vault: Vault, user: str, outcome: str, says: str
) -> None:
    fakes.github.device_policy = DevicePolicy(outcome=outcome, approve_after=1)
    start = await connections.start_device(user)
    with pytest.raises(OAuthFailed, match=says) as caught:
        await connections.finish_device(user, start.flow_id)
    assert caught.value.code == outcome
    assert await vault.credentials.list(user) == []
    with pytest.raises(OAuthFailed, match="not waiting any more"):  # the flow is over
        await connections.finish_device(user, start.flow_id)


async def test_our_own_clock_ends_a_flow_github_keeps_pending(
    connections: Connections, fakes: FakeStack, user: str, clock: Clock
) -> None:
    fakes.github.device_policy = DevicePolicy(approve_after=None)  # nobody types the code
    start = await connections.start_device(user)

    async def time_passes(seconds: float) -> None:
        clock.advance(seconds=300)

    connections._sleep = time_passes  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(OAuthFailed) as caught:
        await connections.finish_device(user, start.flow_id)
    assert caught.value.code == "expired_token"


async def test_another_user_cannot_finish_a_flow(
    connections: Connections, vault: Vault, user: str
) -> None:
    bob = (await vault.users.create("bob", __import__("pydantic").SecretStr("correct horse 2"))).id
    start = await connections.start_device(user)
    with pytest.raises(OAuthFailed) as caught:
        await connections.finish_device(bob, start.flow_id)
    assert caught.value.code == "unknown_flow"
    assert await vault.credentials.list(bob) == []
