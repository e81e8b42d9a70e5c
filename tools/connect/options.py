"""Which Connect buttons this server offers, from its settings: one `ConnectOption` per
provider that has an OAuth flow, with the scopes the enabled features need.

```
github      a GitHub App, unless images go to GHCR    github_app  its permissions
            else the OAuth app (github_oauth_*)       device      repo[, write:packages]
            else the GitHub App anyway, or nothing
vercel      vercel_oauth_client_id + secret           oauth       PKCE
netlify     netlify_oauth_client_id + secret          oauth
openrouter  openrouter_connect (no registration)      pkce        key exchange
```

GHCR accepts only classic OAuth tokens with `write:packages` (not a GitHub App's
fine-grained tokens), so when images go to GHCR the device flow wins over the App.
"""

from __future__ import annotations

from typing import Final

from tools.connect.models import ConnectOption, Feature, Method, github_scopes
from vault import Settings

__all__ = ["APP_PERMISSIONS", "VERCEL_SCOPES", "callback_url", "connect_options"]

# What a GitHub App's user token may do, as its registration must grant it: create the
# app's repository and write its contents and workflow. (Apps have permissions, not scopes.)
APP_PERMISSIONS: Final = ("administration:write", "contents:write", "workflows:write")
# Sign in with Vercel: who the user is, and a refresh token (`offline_access`); what the
# token may deploy is the Vercel App's own configuration.
VERCEL_SCOPES: Final = ("openid", "email", "offline_access")

_CALLBACK = "Its callback URL is {callback}."
_HOW: Final[dict[str, str]] = {
    "github": "Register a GitHub App (fine-grained, expiring tokens) and set "
    "KRIPTIK_GITHUB_APP_CLIENT_ID, KRIPTIK_GITHUB_APP_CLIENT_SECRET and "
    "KRIPTIK_GITHUB_APP_SLUG; or enable Device Flow on the GitHub OAuth app and set "
    "KRIPTIK_GITHUB_OAUTH_CLIENT_ID and KRIPTIK_GITHUB_OAUTH_CLIENT_SECRET (docs/connect.md).",
    "vercel": "Register a Vercel App (Sign in with Vercel) and set "
    "KRIPTIK_VERCEL_OAUTH_CLIENT_ID and KRIPTIK_VERCEL_OAUTH_CLIENT_SECRET (docs/connect.md).",
    "netlify": "Register a Netlify OAuth application (User settings > Applications) and set "
    "KRIPTIK_NETLIFY_OAUTH_CLIENT_ID and KRIPTIK_NETLIFY_OAUTH_CLIENT_SECRET (docs/connect.md).",
    "openrouter": "Set KRIPTIK_OPENROUTER_CONNECT=true; OpenRouter's key exchange needs no "
    "registration (docs/connect.md).",
}


def callback_url(settings: Settings, provider: str) -> str:
    """The exact redirect URI of a provider's flow: `{public url}/connect/{provider}/callback`."""
    return f"{settings.app_url.rstrip('/')}/connect/{provider}/callback"


def _has(client_id: str | None, secret: object | None) -> bool:
    return bool(client_id) and secret is not None


def github_method(settings: Settings, features: set[Feature]) -> Method | None:
    """How GitHub connects here, or None when neither app is configured."""
    app = _has(settings.github_app_client_id, settings.github_app_client_secret)
    device = bool(settings.github_oauth_client_id)
    if app and not ("ghcr" in features and device):
        return "github_app"
    return "device" if device else None


def _option(
    settings: Settings, provider: str, method: Method, scopes: tuple[str, ...], available: bool
) -> ConnectOption:
    how = "" if available else f"{_HOW[provider]} {_CALLBACK}"
    return ConnectOption(
        provider=provider, method=method, scopes=scopes, available=available,
        how_to_enable=how.format(callback=callback_url(settings, provider)),
    )  # fmt: skip


def connect_options(settings: Settings, features: set[Feature]) -> dict[str, ConnectOption]:
    """Every provider with an OAuth flow, available or not (then with how to enable it)."""
    method = github_method(settings, features)
    github = (
        _option(settings, "github", "github_app", APP_PERMISSIONS, True)
        if method == "github_app"
        else _option(settings, "github", "device", github_scopes(features), method == "device")
    )
    vercel = _has(settings.vercel_oauth_client_id, settings.vercel_oauth_client_secret)
    netlify = _has(settings.netlify_oauth_client_id, settings.netlify_oauth_client_secret)
    return {
        "github": github,
        "vercel": _option(settings, "vercel", "oauth", VERCEL_SCOPES, vercel),
        "netlify": _option(settings, "netlify", "oauth", (), netlify),
        "openrouter": _option(settings, "openrouter", "pkce", (), settings.openrouter_connect),
    }
