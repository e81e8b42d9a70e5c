"""GitHub sign-in for the chat app: Chainlit's OAuth routes, with our provider and our rule.

- `GitHubProvider` takes the place of Chainlit's: its URLs come from the settings
  (Chainlit's are read from `OAUTH_GITHUB_*` once, at import, and default to github.com),
  it asks for `read:org` only when organisations are on the allow-list, and it reads the
  account's numeric id with its login.
- `sign_in` (the app's `@cl.oauth_callback`) admits invited and allow-listed accounts
  only (`ui.web.github_access`), as KripTik users keyed on the numeric id.
- Chainlit sends a refused sign-in back to its login page as `error=oauthSignin` ("Sign
  in failed. Please try again"); `RefusalWording` makes that `error=githubNotInvited`,
  which `.chainlit/translations/en-US.json` words as a refusal with the next step.
"""

# Chainlit's OAuthProvider is unannotated in places; our overrides are fully typed.
# pyright: reportIncompatibleMethodOverride=false, reportIncompatibleVariableOverride=false

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import ClassVar, Final, cast

import chainlit as cl
import httpx
from chainlit.oauth_providers import OAuthProvider
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tools.clients.github import GitHubClient
from tools.clients.github_web import GitHubWebFlow
from ui.web.github_access import admit
from vault import Settings, Vault
from vault.github_accounts import GitHubAccount

__all__ = ["REFUSED", "GitHubProvider", "RefusalWording", "install", "sign_in"]

REFUSED: Final = "githubNotInvited"  # the login page's error code for a refused account
_CALLBACK: Final = "/auth/oauth/github/callback"
_log = logging.getLogger(__name__)
# Set per callback request by RefusalWording; `sign_in` notes a refusal in it.
_refusals: ContextVar[list[str] | None] = ContextVar("kriptik_oauth_refusals", default=None)


def _http(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.http_timeout_s, follow_redirects=False)


class GitHubProvider(OAuthProvider):
    """GitHub's web flow against the configured `github_web_base_url` and API."""

    id = "github"
    # Configured by our settings, not by Chainlit's environment variables.
    env: ClassVar[list[str]] = []

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.client_id = settings.github_oauth_client_id or ""
        self.client_secret = ""  # kept in the settings as a SecretStr, not here
        self.authorize_url = f"{settings.github_web_base_url.rstrip('/')}/login/oauth/authorize"
        scopes = ["read:user", *(["read:org"] if settings.github_allowed_orgs else [])]
        self.authorize_params = {"scope": " ".join(scopes)}
        if prompt := self.get_prompt():
            self.authorize_params["prompt"] = prompt

    def is_configured(self) -> bool:
        return bool(
            self._settings.github_oauth_client_id and self._settings.github_oauth_client_secret
        )

    async def get_token(self, code: str, url: str) -> str:
        settings = self._settings
        secret = settings.github_oauth_client_secret or SecretStr("")
        async with _http(settings) as http:
            flow = GitHubWebFlow(http=http, base_url=settings.github_web_base_url,
                                 client_id=self.client_id, client_secret=secret,
                                 timeout_s=settings.http_timeout_s)  # fmt: skip
            return (await flow.exchange(code, url)).get_secret_value()

    async def get_user_info(self, token: str) -> tuple[dict[str, str], cl.User]:
        settings = self._settings
        async with _http(settings) as http:
            github = GitHubClient(
                http=http, base_url=settings.github_api_base_url, token=SecretStr(token),
                timeout_s=settings.http_timeout_s,
            )  # fmt: skip
            me = await github.user()
        if me.id is None:
            raise ValueError("GitHub sent no user id")
        user = cl.User(identifier=me.login, metadata={"provider": "github"})
        return {"login": me.login, "id": str(me.id)}, user


async def sign_in(
    vault: Vault, settings: Settings, token: str, raw_user_data: dict[str, str]
) -> cl.User | None:
    """The KripTik user for a GitHub account that GitHub vouched for, or None (refused)."""
    account = GitHubAccount(id=int(raw_user_data["id"]), login=raw_user_data["login"])
    async with _http(settings) as http:
        user = await admit(vault, settings, account, token=SecretStr(token), http=http)
    if user is None:
        _log.warning(
            "refused GitHub sign-in of %s (id %d): not invited and not on the allow-list; "
            "`kriptik users invite --github %d` lets them in",
            account.login, account.id, account.id,
        )  # fmt: skip
        if (refusals := _refusals.get()) is not None:
            refusals.append(REFUSED)
        return None
    return cl.User(
        identifier=user.name, metadata={"id": user.id, "role": user.role, "provider": "github"}
    )


class RefusalWording:
    """ASGI middleware on Chainlit's GitHub callback: a sign-in that `sign_in` refused is
    sent to the login page with `error=githubNotInvited` instead of the generic code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).endswith(_CALLBACK):
            await self.app(scope, receive, send)
            return
        refusals: list[str] = []
        token = _refusals.set(refusals)

        async def reworded(message: Message) -> None:
            if message["type"] == "http.response.start" and refusals:
                message["headers"] = [
                    (k, v.replace(b"error=oauthSignin", f"error={REFUSED}".encode()))
                    if k.lower() == b"location" else (k, v)
                    for k, v in message.get("headers", [])
                ]  # fmt: skip
            await send(message)

        try:
            await self.app(scope, receive, reworded)
        finally:
            _refusals.reset(token)


def install(settings: Settings) -> None:
    """Put `GitHubProvider` in Chainlit's provider list (the login page's button and the
    OAuth routes read it), and `RefusalWording` in front of the app."""
    from chainlit import oauth_providers
    from chainlit.server import app

    providers = cast("list[OAuthProvider]", oauth_providers.providers)  # pyright: ignore[reportUnknownMemberType] - unannotated in Chainlit
    ours = GitHubProvider(settings)
    providers[:] = [ours if p.id == ours.id else p for p in providers]
    if app.middleware_stack is None:  # not yet serving: Starlette builds it on first call
        app.add_middleware(RefusalWording)
