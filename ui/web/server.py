"""Run the Chainlit chat app in this process: Chainlit's environment written from our
settings, and the app's own origin as the only CORS origin (`ui/web/app.py` puts the HTTP
guard in front)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from vault import Settings

UI_PACKAGE = Path(__file__).resolve().parent.parent
PROJECT_ROOT = UI_PACKAGE.parent
APP_FILE = Path(__file__).resolve().parent / "app.py"
_AUTH_SECRET_FILE = "auth.secret"  # noqa: S105 - a file name, not a secret


def run_web_app(settings: Settings, *, say: Callable[[str], None]) -> int:
    """Serve the chat app until stopped (the vault is migrated and someone can log in).
    `say` is the caller's (redacting) console: this module prints nothing itself."""
    _chainlit_environment(settings)
    from chainlit.cli import run_chainlit
    from chainlit.config import config

    # Only the app's own origin may call it from a browser (Chainlit's default is "*").
    # Set before chainlit.server is imported: its CORS middleware reads the list then.
    config.project.allow_origins = [settings.app_url]
    if settings.simulation:
        # The simulation banner, on every page (the login page included).
        config.ui.custom_js = "/public/simulation.js"
    # The HTTP guard goes in front when the app module loads (`ui/web/app.py`): its login
    # throttle is the app root's vault, which exists only there.
    say(f"KripTik is running on {settings.app_url}  (Ctrl+C to stop)")
    try:
        run_chainlit(str(APP_FILE))
    except KeyboardInterrupt:
        say("stopped")
    return 0


def _auth_secret(home: Path) -> str:
    """The JWT signing secret for login cookies: kept in a 0600 file so logins survive a
    restart, and never a fixed default."""
    path = home / _AUTH_SECRET_FILE
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        value = secrets.token_urlsafe(48)
        handle.write(value)
    return value


def _chainlit_environment(settings: Settings) -> None:
    """Chainlit reads its configuration from the environment; we write it here from our
    settings, so nothing else needs to know Chainlit's variable names."""
    auth = settings.auth_secret.get_secret_value() if settings.auth_secret else None
    os.environ.update(
        {
            "CHAINLIT_APP_ROOT": str(app_root()),
            "CHAINLIT_AUTH_SECRET": auth or _auth_secret(settings.home),
            "CHAINLIT_HOST": settings.host,
            "CHAINLIT_PORT": str(settings.port),
            "CHAINLIT_URL": settings.app_url,
        }
    )
    if settings.github_oauth_client_id and settings.github_oauth_client_secret:
        os.environ["OAUTH_GITHUB_CLIENT_ID"] = settings.github_oauth_client_id
        os.environ["OAUTH_GITHUB_CLIENT_SECRET"] = (
            settings.github_oauth_client_secret.get_secret_value()
        )


def app_root() -> Path:
    """Where Chainlit finds `.chainlit/`, `public/` and `chainlit.md`: the checkout, or, in
    an installed wheel, the copy shipped inside the `ui` package."""
    if (PROJECT_ROOT / "chainlit.md").is_file():
        return PROJECT_ROOT
    return UI_PACKAGE / "app_root"
