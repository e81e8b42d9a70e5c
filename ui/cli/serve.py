"""`kriptik serve`: migrate, make sure someone can log in, then start the chat app."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ui.cli.console import run_command, say

if TYPE_CHECKING:
    from ui.cli import Subparsers
    from ui.root import Substitutes
    from vault import Settings


def register(subparsers: Subparsers) -> None:
    serve = subparsers.add_parser("serve", help="start the chat app")
    serve.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.set_defaults(handler=_serve)


async def _prepare(settings: Settings) -> int:
    from ui.root import opened_vault

    async with opened_vault(settings) as vault:
        if vault.master_key_created:
            say(
                f"Created a new master key in {vault.master.source} (mode 0600). Back it up:"
                " without it the stored keys cannot be decrypted."
            )
        password = await vault.users.ensure_admin()
    if password is not None:
        say("")
        say("  First run: created user 'admin'. Log in with this password (shown only once):")
        say(f"      {password.get_secret_value()}")
        say("  Add more users with `kriptik users add NAME`.")
        say("")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from vault import get_settings

    base = get_settings()
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    return serve_app(base.model_copy(update=overrides))


def serve_app(settings: Settings, *, substitutes: Substitutes | None = None) -> int:
    """Migrate, make sure someone can log in, then run the chat app until stopped.
    `substitutes` (from `kriptik demo`) swap in the simulator at the composition root."""
    # First: the web app's process imports neither Literal AI's client nor httpx's command
    # line (ui/web/lean_imports.py), and httpx is imported next, by the root.
    from ui.web.lean_imports import defer_unused_imports

    defer_unused_imports()
    from ui import runtime

    # Handed to the app module, which builds its root from them (ui/runtime.py says why).
    runtime.configure(settings, substitutes=substitutes)
    if run_command(lambda: _prepare(settings)) != 0:
        return 2
    from ui.web.server import run_web_app

    return run_web_app(settings, say=say)
