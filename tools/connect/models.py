"""What the Connect flows say: the features that decide the scopes, the options a card
offers, a device flow's code, a finished connection, and the two errors that stop work
before anything is spent.

```
ConnectOption    a provider's Connect button: method, scopes, available (and if not, how
                 the operator enables it)
DeviceStart      GitHub's device flow: the code to show, where to type it, until when
Connected        the stored connection: last four characters, identity, scopes, expiry,
                 limits (OpenRouter), and one sentence for the chat
ReconnectNeeded  the stored connection no longer works (a refresh failed for good)
MissingScopes    it works, but lacks a scope the next step needs (write:packages)
```

Both errors are `AuthError`s (`tools.clients.errors`), so every layer that already turns a
rejected key into "ask the user for a new one" (the agent's tool hooks, the pipeline's
steps) turns these into a reconnect offer too. Their `provider` is the vault's id
("github"), and their message names the provider (and the scope) and says to connect again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.clients.errors import AuthError

__all__ = [
    "TITLES",
    "ConnectOption",
    "Connected",
    "DeviceStart",
    "Feature",
    "Method",
    "MissingScopes",
    "ReconnectNeeded",
    "github_scopes",
]

Feature = Literal["repo", "ghcr", "web_vercel", "web_netlify", "llm"]
Method = Literal["device", "github_app", "oauth", "pkce"]
TITLES: Final[dict[str, str]] = {
    "github": "GitHub", "vercel": "Vercel", "netlify": "Netlify", "openrouter": "OpenRouter",
    "huggingface": "Hugging Face", "runpod": "RunPod",
}  # fmt: skip


def title(provider: str) -> str:
    return TITLES.get(provider, provider)


def github_scopes(features: set[Feature]) -> tuple[str, ...]:
    """The classic OAuth scopes GitHub is asked for: `repo` (create the app's repository and
    push its contents), and `write:packages` when worker images go to GHCR."""
    return ("repo", "write:packages") if "ghcr" in features else ("repo",)


class ConnectOption(BaseModel):
    """A provider's Connect button, as a card shows it. `scopes` are what the flow asks for
    (a GitHub App's permissions, for `github_app`); `how_to_enable` says, when it is not
    available, which app the operator registers and which settings name it."""

    model_config = ConfigDict(frozen=True)

    provider: str
    method: Method
    scopes: tuple[str, ...]
    available: bool
    how_to_enable: str


class DeviceStart(BaseModel):
    """GitHub's device flow, started: show `user_code` and `verification_uri`; then
    `Connections.finish_device(user_id, flow_id)` waits for the approval."""

    model_config = ConfigDict(frozen=True)

    flow_id: str
    user_code: str
    verification_uri: str
    expires_at: datetime
    scopes: tuple[str, ...]


class Connected(BaseModel):
    """A connection stored and validated. Never a token: its last four characters."""

    model_config = ConfigDict(frozen=True)

    provider: str
    tail: str
    identity: str | None
    scopes: list[str]
    expires_at: datetime | None
    limits: dict[str, Any] = Field(default_factory=dict[str, Any])
    message: str


class ReconnectNeeded(AuthError):
    """The stored connection no longer works (its refresh token was revoked or expired, or
    the provider refused it) and the user must connect again. Nothing was spent."""

    def __init__(self, provider: str, reason: str) -> None:
        name = title(provider)
        message = (
            f"Your {name} connection no longer works ({reason.rstrip('.')}). Connect {name} "
            "again (or paste a new key); nothing was spent."
        )
        super().__init__(message, provider=provider)
        self.reason = reason


class MissingScopes(AuthError):
    """The stored credential works but lacks scopes the next step needs. Nothing was spent."""

    def __init__(self, provider: str, missing: tuple[str, ...], *, why: str = "") -> None:
        name, listed = title(provider), ", ".join(missing)
        noun = "scope" if len(missing) == 1 else "scopes"
        message = (
            f"Your {name} credential lacks the {listed} {noun}{f' that {why}' if why else ''}. "
            f"Connect {name} again (the Connect button asks for {listed}), or paste a key "
            f"that has it; nothing was spent."
        )
        super().__init__(message, provider=provider, status=403)
        self.missing = missing
