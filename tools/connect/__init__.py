"""Connected accounts: GitHub, Vercel, Netlify and OpenRouter through OAuth, instead of a
pasted token, and every provider token used through `Connections.token` (refreshed before
it expires) and checked with `Connections.require_scopes` before anything is spent.

```
models    Feature, github_scopes, ConnectOption, DeviceStart, Connected,
          ReconnectNeeded, MissingScopes
options   which Connect buttons the settings allow, and the exact callback URLs
apps      the registered apps' clients: exchange, refresh, revoke
store     validate a new connection at once, then keep it
tokens    token(): refresh before expiry, durable failure; require_scopes()
service   Connections, built once by the composition root (ui.root)
```

Names are imported on first use (PEP 562): the errors and models must not pay for every
provider client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lazy import lazy_exports

if TYPE_CHECKING:
    from tools.connect.models import (
        Connected,
        ConnectOption,
        DeviceStart,
        Feature,
        MissingScopes,
        ReconnectNeeded,
        github_scopes,
    )
    from tools.connect.service import DEFAULT_FEATURES, Connections

_HOME = {
    "ConnectOption": "models",
    "Connected": "models",
    "DeviceStart": "models",
    "Feature": "models",
    "MissingScopes": "models",
    "ReconnectNeeded": "models",
    "github_scopes": "models",
    "DEFAULT_FEATURES": "service",
    "Connections": "service",
}
__all__ = [
    "DEFAULT_FEATURES",
    "ConnectOption",
    "Connected",
    "Connections",
    "DeviceStart",
    "Feature",
    "MissingScopes",
    "ReconnectNeeded",
    "github_scopes",
]

__getattr__ = lazy_exports(__name__, _HOME)
