"""`Connections`: connect, use and disconnect a user's provider accounts through OAuth.
Built once by the composition root (`ui.root`) with the vault, the settings, the HTTP
client and the clock; the chat's Connect buttons, the callback route and the provider
calls all go through it.

```
options(features)                    the Connect buttons this server offers
start_device(user)  -> DeviceStart   GitHub's device flow: the code to show
finish_device(user, flow_id)         polls at GitHub's pace until approved -> Connected
begin_redirect(user, provider, session_id=)   the authorize URL (state + PKCE in the vault)
complete_redirect(provider, state=, code=, user_id=, session_id=)  -> Connected
disconnect(user, provider)           revoke where the provider allows, delete, audit
token(user, provider)                the token for one call, refreshed before it expires
require_scopes(user, provider, features)      before any spend: works, and has the scopes
```

Every connection is validated at once with the provider's free read-only check (like a
pasted key) and stored only if the provider accepts it; a token the provider rejects is
revoked where possible and never stored. A device flow's device code is a secret and
lives only in this process's memory (the chat session that started it polls it here).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import OAuthFailed, ProviderError
from tools.clients.github_oauth import DeviceCode
from tools.clients.oauth_tokens import Pkce, TokenSet, new_pkce, oauth_error, pkce_challenge
from tools.connect.apps import NO_REVOKE, Apps, grant_of
from tools.connect.models import (
    Connected,
    ConnectOption,
    DeviceStart,
    Feature,
    github_scopes,
    title,
)
from tools.connect.options import VERCEL_SCOPES, callback_url, connect_options
from tools.connect.store import store_connection
from tools.connect.tokens import TokenKeeper
from vault import OAuthStateInvalid, Settings, Vault
from vault.oauth_grants import OAuthGrant

__all__ = ["DEFAULT_FEATURES", "Connections"]

Sleep = Callable[[float], Awaitable[None]]
# Everything KripTik can do: the GitHub scopes then cover the GHCR push too.
DEFAULT_FEATURES: frozenset[Feature] = frozenset(
    {"repo", "ghcr", "web_vercel", "web_netlify", "llm"}
)
_REDIRECTS = ("github", "vercel", "netlify", "openrouter")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _DeviceFlow:
    user_id: str
    code: DeviceCode
    scopes: tuple[str, ...]
    expires_at: datetime


class Connections:
    """The user's connected accounts (see the module docstring).

    Args:
        vault: Where grants, flows' states and PKCE verifiers are kept.
        settings: The registered apps, the base URLs and the public URL.
        http: The process-wide HTTP client.
        clock: "Now" (expiries, refresh margins).
        sleep: The wait between two device-flow polls (a fake in tests).
        features: What this server does, which decides GitHub's scopes.
        retry: Retry policy for the provider clients.
    """

    def __init__(
        self,
        vault: Vault,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Sleep = asyncio.sleep,
        features: frozenset[Feature] | set[Feature] = DEFAULT_FEATURES,
        retry: Retry | None = None,
    ) -> None:
        self._vault, self._settings, self._http = vault, settings, http
        self._clock, self._sleep, self._retry = clock, sleep, retry
        self.features: frozenset[Feature] = frozenset(features)
        self._apps = Apps(settings, http, retry)
        self._tokens = TokenKeeper(vault, settings, http, self._apps, clock=clock, retry=retry)
        self._devices: dict[str, _DeviceFlow] = {}

    def __repr__(self) -> str:
        return f"Connections(features={sorted(self.features)}, flows={len(self._devices)})"

    def options(self, features: set[Feature] | None = None) -> dict[str, ConnectOption]:
        """The Connect button of each provider, with the scopes `features` (default: this
        server's) need; unavailable ones say how the operator enables them."""
        chosen = set(self.features if features is None else features)
        return connect_options(self._settings, chosen)

    # ---- GitHub's device flow ----------------------------------------------------------
    async def start_device(self, user_id: str) -> DeviceStart:
        """Start GitHub's device flow with the scopes the enabled features need."""
        scopes = github_scopes(set(self.features))
        code = await self._apps.device().start(scopes=scopes)
        now = self._clock()
        self._devices = {k: f for k, f in self._devices.items() if f.expires_at > now}
        flow_id = secrets.token_urlsafe(16)
        expires_at = now + timedelta(seconds=code.expires_in)
        self._devices[flow_id] = _DeviceFlow(user_id, code, scopes, expires_at)
        return DeviceStart(
            flow_id=flow_id, user_code=code.user_code, verification_uri=code.verification_uri,
            expires_at=expires_at, scopes=scopes,
        )  # fmt: skip

    async def finish_device(self, user_id: str, flow_id: str) -> Connected:
        """Poll at GitHub's pace until the user approves, then validate and store.

        Raises:
            OAuthFailed: Denied (`access_denied`), expired (`expired_token`), an unknown
                flow (`unknown_flow`), or a token GitHub then rejects (`rejected`).
        """
        flow = self._devices.get(flow_id)
        if flow is None or flow.user_id != user_id:
            raise OAuthFailed(
                "This GitHub sign-in is not waiting any more. Start it again.",
                provider="GitHub", code="unknown_flow",
            )  # fmt: skip
        try:
            tokens = await self._poll(flow)
        finally:
            self._devices.pop(flow_id, None)
        return await self._store(user_id, "github", grant_of(tokens, "device", self._clock()))

    async def _poll(self, flow: _DeviceFlow) -> TokenSet:
        device, interval = self._apps.device(), float(flow.code.interval)
        while True:
            await self._sleep(interval)
            if self._clock() >= flow.expires_at:
                raise oauth_error("expired_token", provider="GitHub")
            result = await device.poll(flow.code, interval=interval)
            if isinstance(result, TokenSet):
                return result
            interval = result

    # ---- redirect flows ----------------------------------------------------------------
    async def begin_redirect(self, user_id: str, provider: str, *, session_id: str) -> str:
        """The URL to open for `provider` (github: the GitHub App; vercel; netlify;
        openrouter). Its state, bound to the user and this chat session, and its PKCE
        verifier wait in the vault for the callback.

        Raises:
            OAuthFailed: The operator registered no app for it (`not_configured`).
            ValueError: `provider` has no redirect flow.
        """
        if provider not in _REDIRECTS:
            raise ValueError(f"{provider!r} has no redirect flow; choose one of {_REDIRECTS}")
        self._authorize_url(provider, "", "", None)  # not configured: raise before a state
        redirect_uri = callback_url(self._settings, provider)
        pkce = new_pkce() if provider in ("vercel", "openrouter") else None
        state = await self._vault.oauth_pending.begin(
            user_id, provider, session_id=session_id,
            verifier=pkce.verifier if pkce else None, redirect_uri=redirect_uri,
        )  # fmt: skip
        return self._authorize_url(provider, state, redirect_uri, pkce)

    def _authorize_url(self, provider: str, state: str, uri: str, pkce: Pkce | None) -> str:
        apps = self._apps
        if provider == "github":
            return apps.github_app().authorize_url(state=state, redirect_uri=uri)
        if provider == "netlify":
            return apps.netlify().authorize_url(state=state, redirect_uri=uri)
        pkce = pkce or new_pkce()  # only the configuration check passes none
        if provider == "vercel":
            return apps.vercel().authorize_url(
                state=state, redirect_uri=uri, pkce=pkce, scopes=VERCEL_SCOPES
            )
        # OpenRouter sends back only `code`: the state rides in the callback URL itself.
        return apps.openrouter().auth_url(callback_url=f"{uri}?state={state}", pkce=pkce)

    async def complete_redirect(
        self, provider: str, *, state: str, code: str, user_id: str, session_id: str
    ) -> Connected:
        """The callback: check the state (once, this user, this session, not expired),
        trade the code at the provider, validate, store.

        Raises:
            OAuthStateInvalid: The state is unknown, used, expired or not this session's.
            OAuthFailed: The provider refused the code (`invalid_grant`, ...) or the token.
        """
        pending = await self._vault.oauth_pending.consume(
            state, user_id=user_id, session_id=session_id
        )
        if pending.provider != provider:
            raise OAuthStateInvalid("this connection link belongs to another provider")
        pkce = _pkce(pending.verifier)
        uri, now = pending.redirect_uri, self._clock
        if provider == "github":
            tokens = await self._apps.github_app().exchange(code, redirect_uri=uri)
            grant = grant_of(tokens, "github_app", now())
        elif provider == "vercel" and pkce is not None:
            tokens = await self._apps.vercel().exchange(code, redirect_uri=uri, pkce=pkce)
            grant = grant_of(tokens, "oauth", now())
        elif provider == "netlify":
            grant = grant_of(await self._apps.netlify().exchange(code, redirect_uri=uri),
                             "oauth", now())  # fmt: skip
        elif provider == "openrouter" and pkce is not None:
            key = await self._apps.openrouter().exchange(code, pkce=pkce)
            grant = OAuthGrant(access=key, via="pkce")
        else:
            raise OAuthStateInvalid("this connection link cannot be completed here")
        return await self._store(user_id, provider, grant)

    async def _store(self, user_id: str, provider: str, grant: OAuthGrant) -> Connected:
        return await store_connection(
            self._vault, self._settings, self._http, self._apps,
            user_id=user_id, provider=provider, grant=grant, retry=self._retry,
        )  # fmt: skip

    # ---- disconnect and use ------------------------------------------------------------
    async def disconnect(self, user_id: str, provider: str) -> str:
        """Revoke the token at the provider where it allows that, then delete it from the
        vault (audit "disconnected", or "removed" for a pasted key). Returns what happened,
        in one sentence for the user.

        Raises:
            CredentialNotFound: Nothing is stored for `provider`.
        """
        grant = await self._vault.credentials.grant(user_id, provider)
        name, note = title(provider), ""
        try:
            revoked = await self._apps.revoke(provider, grant)
        except ProviderError as err:
            revoked, note = False, f" It could not be revoked at {name} ({err.message})."
        if revoked is None and grant.via is not None:
            note = " " + NO_REVOKE.get(provider, "")
        await self._vault.credentials.remove(user_id, provider, revoked=revoked)
        if grant.via is None:
            return f"{name} key ending in {grant.tail} removed from KripTik.{note}".rstrip()
        done = "revoked and disconnected" if revoked else "disconnected"
        return f"{name} {done}; the token is deleted from KripTik.{note}".rstrip()

    async def token(self, user_id: str, provider: str) -> SecretStr:
        """The token for one provider call (a pasted key as stored); a connected account's
        is refreshed when it has less than five minutes left.

        Raises:
            CredentialNotFound: None is stored.
            ReconnectNeeded: The refresh failed for good; it is marked, and the user must
                connect again.
        """
        return await self._tokens.token(user_id, provider)

    async def require_scopes(self, user_id: str, provider: str, features: set[Feature]) -> None:
        """Before any spend: the credential works (checked live, for free) and has the
        scopes `features` need.

        Raises:
            CredentialNotFound, ReconnectNeeded, MissingScopes, ProviderError.
        """
        await self._tokens.require_scopes(user_id, provider, features)


def _pkce(verifier: SecretStr | None) -> Pkce | None:
    if verifier is None:
        return None
    plain = verifier.get_secret_value()
    return Pkce(verifier=verifier, challenge=pkce_challenge(plain))
