"""Who may sign in with GitHub: accounts an admin invited, and the allow-list (users by
login or numeric id, active members of allowed organisations). Everyone else is refused,
so configuring GitHub OAuth no longer opens the app (and the server's LLM key) to every
GitHub account.

An account is a KripTik user keyed on its numeric GitHub id (`vault.github_accounts`):
a login on the allow-list that GitHub has since given to someone else admits that
someone to a new, empty account, never to the old one. Ids in the allow-list name one
account for good, so prefer them.
"""

from __future__ import annotations

import logging

import httpx
from pydantic import SecretStr

from tools.clients.errors import ProviderError
from tools.clients.github import GitHubClient
from vault import Settings, UserView, Vault
from vault.github_accounts import GitHubAccount

__all__ = ["admit", "on_allow_list"]

_log = logging.getLogger(__name__)


def _listed(settings: Settings, account: GitHubAccount) -> bool:
    """Listed by id, or by login; digits always name an id (as `kriptik users invite`)."""
    entries = [entry.strip().lower() for entry in settings.github_allowed_users]
    ids = {int(entry) for entry in entries if entry.isdigit()}
    logins = {entry for entry in entries if entry and not entry.isdigit()}
    return account.id in ids or account.login.lower() in logins


async def on_allow_list(
    settings: Settings, account: GitHubAccount, *, token: SecretStr, http: httpx.AsyncClient
) -> bool:
    """Whether the settings let `account` sign in: listed by id or login, or an active
    member of a listed organisation (asked of GitHub with the account's own token, which
    needs `read:org`). A membership GitHub will not confirm counts as none."""
    if _listed(settings, account):
        return True
    if not settings.github_allowed_orgs:
        return False
    github = GitHubClient(http=http, base_url=settings.github_api_base_url, token=token,
                          timeout_s=settings.http_timeout_s)  # fmt: skip
    for org in settings.github_allowed_orgs:
        try:
            if await github.org_membership(org) == "active":
                return True
        except ProviderError as err:
            # 403: the organisation restricts OAuth apps it has not approved (approve
            # KripTik's app in the organisation's settings), or the scope was refused.
            _log.warning(
                "GitHub did not confirm %s's membership of %s: %s", account.login, org, err
            )
    return False


async def admit(
    vault: Vault,
    settings: Settings,
    account: GitHubAccount,
    *,
    token: SecretStr,
    http: httpx.AsyncClient,
) -> UserView | None:
    """The KripTik user for a GitHub sign-in, created on the first one; None when the
    account is neither invited nor on the allow-list."""
    if not await vault.github.is_invited(account) and not await on_allow_list(
        settings, account, token=token, http=http
    ):
        return None
    return await vault.github.admit(account)
