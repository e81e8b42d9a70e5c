"""Who may sign in with GitHub (`ui.web.github_access.admit`), against the GitHub fake, on
SQLite and PostgreSQL: nobody but invited accounts when the allow-list is empty; users by
login or numeric id; active members of allowed organisations (asked of GitHub with the
account's own token); invitations by login or id, used up by the first sign-in; and
accounts keyed on the numeric id, so a recycled login never gets the old account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from tools.simulator.all import FakeStack
from tools.simulator.github import GitHubUser
from ui.web.github_access import admit
from vault import Settings, UserError, Vault
from vault.github_accounts import GitHubAccount, invite_subject
from vault.models import User

ANN = GitHubAccount(id=5001, login="Ann-GH")
ORG_SCOPES = "read:user, read:org"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def github(fakes: FakeStack) -> Any:
    """Settings pointing at the fakes (with extra fields), and a token for an account."""

    def configure(settings: Settings, **fields: Any) -> Settings:
        return settings.model_copy(update={**fakes.settings_fields(), **fields})

    return configure


def _token(fakes: FakeStack, account: GitHubAccount, *, scopes: str = ORG_SCOPES,
           orgs: dict[str, str] | None = None) -> SecretStr:  # fmt: skip
    token = f"gho_FAKEtest{account.id:0>30}"
    fakes.github.users[token] = GitHubUser(login=account.login, id=account.id, scopes=scopes,
                                           orgs=orgs or {})  # fmt: skip
    return SecretStr(token)


async def _users(vault: Vault) -> int:
    async with vault.sessions() as session:
        return await session.scalar(select(func.count()).select_from(User)) or 0


async def test_nobody_gets_in_when_nobody_is_invited_or_listed(
    vault: Vault, settings: Settings, github: Any, fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    before = await _users(vault)
    token = _token(fakes, ANN, orgs={"acme": "active"})
    assert await admit(vault, github(settings), ANN, token=token, http=http) is None
    assert await _users(vault) == before  # no account was made for the refused sign-in


@pytest.mark.parametrize("entry", ["ann-gh", "ANN-GH", "5001"])
async def test_listed_users_get_in_by_login_or_id(
    vault: Vault, settings: Settings, github: Any, fakes: FakeStack, http: httpx.AsyncClient,
    entry: str,
) -> None:  # fmt: skip
    listed = github(settings, github_allowed_users=["someone-else", entry])
    user = await admit(vault, listed, ANN, token=_token(fakes, ANN), http=http)
    assert user is not None and user.github_id == ANN.id and user.name == "github.ann-gh"
    again = await admit(vault, listed, ANN, token=_token(fakes, ANN), http=http)
    assert again is not None and again.id == user.id


@pytest.mark.parametrize(
    ("scopes", "orgs", "admitted"),
    [
        (ORG_SCOPES, {"acme": "active"}, True),
        (ORG_SCOPES, {"acme": "pending"}, False),  # invited to the org, not yet a member
        (ORG_SCOPES, {"other": "active"}, False),
        ("read:user", {"acme": "active"}, False),  # the read:org scope was refused: 403
    ],
)
async def test_active_members_of_an_allowed_org_get_in(
    vault: Vault, settings: Settings, github: Any, fakes: FakeStack, http: httpx.AsyncClient,
    scopes: str, orgs: dict[str, str], admitted: bool,
) -> None:  # fmt: skip
    token = _token(fakes, ANN, scopes=scopes, orgs=orgs)
    user = await admit(vault, github(settings, github_allowed_orgs=["Acme"]), ANN, token=token,
                       http=http)  # fmt: skip
    assert (user is not None) is admitted
    asked = fakes.github.calls_to("GET /user/memberships/orgs/{org}")
    assert [c.params["org"] for c in asked] == ["Acme"]


async def test_an_invitation_by_login_binds_the_id_and_is_used_up(
    vault: Vault, settings: Settings, github: Any, fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    closed = github(settings)
    assert await vault.github.invite("ann-gh", invited_by="admin") == "login:ann-gh"
    user = await admit(vault, closed, ANN, token=_token(fakes, ANN), http=http)
    assert user is not None and user.github_id == ANN.id
    assert await vault.github.invitations() == []
    # Later: Ann renames her account, and someone else registers "Ann-GH".
    renamed = GitHubAccount(id=ANN.id, login="ann-renamed")
    back = await admit(vault, closed, renamed, token=_token(fakes, renamed), http=http)
    assert back is not None and back.id == user.id  # invited for good, by id
    squatter = GitHubAccount(id=9999, login="Ann-GH")
    assert await admit(vault, closed, squatter, token=_token(fakes, squatter), http=http) is None


async def test_a_recycled_login_on_the_allow_list_never_gets_the_old_account(
    vault: Vault, settings: Settings, github: Any, fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    listed = github(settings, github_allowed_users=["ann-gh"])
    first = await admit(vault, listed, ANN, token=_token(fakes, ANN), http=http)
    await vault.credentials.add(first.id, "runpod", SecretStr("rpa_" + "A1b2" * 10))  # type: ignore[union-attr]
    newcomer = GitHubAccount(id=7777, login="ann-gh")
    second = await admit(vault, listed, newcomer, token=_token(fakes, newcomer), http=http)
    assert first is not None and second is not None
    assert second.id != first.id and second.name == "github.ann-gh.7777"
    assert await vault.credentials.list(second.id) == []


async def test_an_invitation_by_id_and_its_withdrawal(
    vault: Vault, settings: Settings, github: Any, fakes: FakeStack, http: httpx.AsyncClient
) -> None:
    closed = github(settings)
    await vault.github.invite(str(ANN.id), invited_by="admin")
    assert await admit(vault, closed, ANN, token=_token(fakes, ANN), http=http) is not None
    assert await vault.github.revoke(str(ANN.id))
    assert await admit(vault, closed, ANN, token=_token(fakes, ANN), http=http) is None


@pytest.mark.parametrize("who", ["", "-ann", "ann--x", "a" * 40, "ann gh", "0", "ann/../x"])
def test_invitations_name_a_login_or_an_id(who: str) -> None:
    with pytest.raises(UserError, match="neither a GitHub login nor a numeric"):
        invite_subject(who)
