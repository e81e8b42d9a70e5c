"""`kriptik serve`: migrate, make sure someone can log in, then start the chat app."""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from ui.console import run_command, say, warn

if TYPE_CHECKING:
    from ui.cli import Subparsers
    from ui.runtime import Substitutes
    from vault import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP_FILE = Path(__file__).resolve().parent / "app.py"
_AUTH_SECRET_FILE = "auth.secret"  # noqa: S105 - a file name, not a secret


def register(subparsers: Subparsers) -> None:
    serve = subparsers.add_parser("serve", help="start the chat app")
    serve.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.set_defaults(handler=_serve)


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


async def _prepare() -> int:
    from ui import runtime

    vault = await runtime.open_vault()
    try:
        if vault.master_key_created:
            say(
                f"Created a new master key in {vault.master.source} (mode 0600). Back it up:"
                " without it the stored keys cannot be decrypted."
            )
        password = await vault.users.ensure_admin()
    finally:
        await vault.close()
    if password is not None:
        say("")
        say("  First run: created user 'admin'. Log in with this password (shown only once):")
        say(f"      {password.get_secret_value()}")
        say("  Add more users with `kriptik users add NAME`.")
        say("")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ui import runtime

    base = runtime.settings()
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    return serve_app(base.model_copy(update=overrides))


def serve_app(settings: Settings, *, substitutes: Substitutes | None = None) -> int:
    """Migrate, make sure someone can log in, then run the chat app until stopped.
    `substitutes` (from `kriptik demo`) swap in the simulator at the composition root."""
    from ui import runtime

    runtime.configure(settings, substitutes=substitutes)
    if run_command(_prepare) != 0:
        return 2
    _chainlit_environment(settings)
    from chainlit.cli import run_chainlit
    from chainlit.config import config

    # Only the app's own origin may call it from a browser (Chainlit's default is "*").
    # Set before chainlit.server is imported: its CORS middleware reads the list then.
    config.project.allow_origins = [settings.app_url]
    if settings.simulation:
        # The simulation banner, on every page (the login page included).
        config.ui.custom_js = "/public/simulation.js"
    from chainlit.server import app

    from ui.http_guard import HttpGuard

    # Origin check on unsafe methods and WebSocket upgrades, a per-address login rate
    # limit, Secure cookies behind https, no framing by other sites (ui/http_guard.py).
    app.add_middleware(
        HttpGuard, app_url=settings.app_url, attempts=settings.login_attempts_per_address
    )
    say(f"KripTik is running on {settings.app_url}  (Ctrl+C to stop)")
    try:
        run_chainlit(str(APP_FILE))
    except KeyboardInterrupt:
        warn("stopped")
    return 0


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
    return Path(__file__).resolve().parent / "app_root"
