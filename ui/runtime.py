"""Process-wide state shared by the CLI and the chat app: settings and the open vault.

`kriptik serve` configures the settings (with its --host/--port) before Chainlit loads
`ui/web/app.py`; the app reads them from here, never from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vault import Settings, UserView, Vault, VaultError, get_settings

if TYPE_CHECKING:
    import httpx

    from tools.pipeline.services import ImageBuilder, RegistryAccess, Timings


@dataclass(frozen=True)
class Substitutes:
    """What `kriptik demo` puts in place of the real world at the composition root: the
    simulator's image builder and registry (no Docker engine), and an HTTP transport that
    answers the simulated web hosts and refuses everything beyond loopback."""

    images: ImageBuilder
    registry: RegistryAccess
    transport: httpx.AsyncBaseTransport
    timings: Timings | None = None  # the simulator answers at once: poll it faster


_settings: Settings | None = None
_substitutes: Substitutes | None = None
_vault: Vault | None = None


def configure(settings: Settings, *, substitutes: Substitutes | None = None) -> None:
    global _settings, _substitutes
    _settings = settings
    _substitutes = substitutes


def substitutes() -> Substitutes | None:
    return _substitutes


def settings() -> Settings:
    return _settings or get_settings()


async def open_vault(chosen: Settings | None = None) -> Vault:
    return await Vault.open(chosen or settings())


async def start_app_vault() -> Vault:
    global _vault
    if _vault is None:
        _vault = await open_vault()
    return _vault


def app_vault() -> Vault:
    if _vault is None:
        raise RuntimeError("the vault is opened at app start-up")
    return _vault


async def stop_app_vault() -> None:
    global _vault
    if _vault is not None:
        await _vault.close()
        _vault = None


async def resolve_user(vault: Vault, name: str) -> UserView:
    user = await vault.users.get(name)
    if user is None:
        raise VaultError(f"no user {name!r}; create one with `kriptik users add {name}`")
    return user
