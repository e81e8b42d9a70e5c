"""`kriptik db upgrade`, `kriptik vault rotate|new-key`, `kriptik users add`."""

from __future__ import annotations

import argparse
import base64
import secrets
from typing import TYPE_CHECKING

from ui.console import read_secret, run_command, say

if TYPE_CHECKING:
    from ui.cli import Subparsers


def register(subparsers: Subparsers) -> None:
    db = subparsers.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="apply migrations").set_defaults(handler=_db_upgrade)

    vault = subparsers.add_parser("vault", help="key-encryption key maintenance")
    vault_sub = vault.add_subparsers(dest="vault_command", metavar="ACTION", required=True)
    vault_sub.add_parser(
        "rotate", help="re-wrap every data key under a new KEK version"
    ).set_defaults(handler=_vault_rotate)
    vault_sub.add_parser(
        "new-key", help="print a fresh random value for KRIPTIK_MASTER_KEY"
    ).set_defaults(handler=_new_key)

    users = subparsers.add_parser("users", help="login users")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = users_sub.add_parser("add", help="create a user (password from stdin or a prompt)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--admin", action="store_true", help="give the user the admin role")
    add.set_defaults(handler=_users_add)


def _db_upgrade(_args: argparse.Namespace) -> int:
    async def body() -> int:
        from vault import get_settings
        from vault.db import create_engine
        from vault.migrate import current_revision, upgrade

        engine = create_engine(get_settings().resolved_database_url)
        try:
            await upgrade(engine)
            say(f"Database is at revision {await current_revision(engine)}.")
        finally:
            await engine.dispose()
        return 0

    return int(run_command(body))


def _vault_rotate(_args: argparse.Namespace) -> int:
    async def body() -> int:
        from ui.runtime import open_vault

        vault = await open_vault()
        try:
            version, count = await vault.credentials.rotate()
        finally:
            await vault.close()
        say(f"Re-wrapped {count} key(s) under KEK version {version}; older versions retired.")
        return 0

    return int(run_command(body))


def _new_key(_args: argparse.Namespace) -> int:
    say(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return 0


def _users_add(args: argparse.Namespace) -> int:
    password = read_secret(f"password for {args.name} (input hidden): ")

    async def body() -> int:
        from ui.runtime import open_vault

        vault = await open_vault()
        try:
            user = await vault.users.create(
                args.name, password, role="admin" if args.admin else "user"
            )
        finally:
            await vault.close()
        say(f"Created user {user.name} ({user.role}).")
        return 0

    return int(run_command(body))
