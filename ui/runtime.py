"""The one hand-off from `kriptik serve` to the Chainlit entry module: the settings (with
--host/--port) and the simulator's substitutes, read once by `ui/web/app.py` when Chainlit
imports it.

Chainlit imports `ui/web/app.py` by path and calls nothing of ours with arguments, so this
is the only way `serve_app` can give it what to build the root from; nothing is looked up
here after start-up (the app hands its root down explicitly, `ui.root`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vault import Settings, get_settings

if TYPE_CHECKING:
    from ui.root import Substitutes

__all__ = ["HandOff", "configure", "handed_over"]


@dataclass(frozen=True)
class HandOff:
    settings: Settings
    substitutes: Substitutes | None = None


_handed: HandOff | None = None


def configure(settings: Settings, *, substitutes: Substitutes | None = None) -> None:
    """Set by `kriptik serve` (and `kriptik demo`) before Chainlit loads the app."""
    global _handed
    _handed = HandOff(settings, substitutes)


def handed_over() -> HandOff:
    """What `configure` set; the process's settings when the app was started otherwise."""
    return _handed or HandOff(get_settings())
