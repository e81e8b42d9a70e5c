"""`kriptik db upgrade`, `kriptik vault rotate|new-key`, `kriptik users add`, and who may
sign in with GitHub: `kriptik users invite|uninvite|invites|link-github`."""

from __future__ import annotations

import argparse
import base64
import secrets
from typing import TYPE_CHECKING

from ui.cli.console import read_secret, run_command, run_on_vault, say

if TYPE_CHECKING:
    from ui.cli import Subparsers
    from vault import Vault


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
    _register_github(users_sub)


def _register_github(users_sub: Subparsers) -> None:
    who = "a GitHub login, or (better: logins can change hands) a numeric GitHub user id"
    invite = users_sub.add_parser("invite", help="let a GitHub account sign in")
    invite.add_argument("--github", required=True, metavar="LOGIN_OR_ID", help=who)
    invite.set_defaults(handler=_users_invite)
    uninvite = users_sub.add_parser("uninvite", help="withdraw a GitHub invitation")
    uninvite.add_argument("--github", required=True, metavar="LOGIN_OR_ID", help=who)
    uninvite.set_defaults(handler=_users_uninvite)
    users_sub.add_parser("invites", help="list pending GitHub invitations").set_defaults(
        handler=_users_invites
    )
    link = users_sub.add_parser(
        "link-github", help="bind an existing user to a GitHub account, by its numeric id"
    )
    link.add_argument("name", metavar="NAME")
    link.add_argument("github_id", metavar="ID", type=int)
    link.set_defaults(handler=_users_link)


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
    async def body(vault: Vault) -> int:
        version, count = await vault.credentials.rotate(actor="cli")
        say(f"Re-wrapped {count} key(s) under KEK version {version}; older versions retired.")
        return 0

    return int(run_on_vault(body))


def _new_key(_args: argparse.Namespace) -> int:
    say(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return 0


def _users_add(args: argparse.Namespace) -> int:
    password = read_secret(f"password for {args.name} (input hidden): ")

    async def body(vault: Vault) -> int:
        user = await vault.users.create(args.name, password, role="admin" if args.admin else "user")
        say(f"Created user {user.name} ({user.role}).")
        return 0

    return int(run_on_vault(body))


def _users_invite(args: argparse.Namespace) -> int:
    async def body(vault: Vault) -> int:
        subject = await vault.github.invite(args.github, invited_by="cli")
        say(f"Invited GitHub {subject.replace(':', ' ', 1)}: they can sign in with GitHub now.")
        if subject.startswith("login:"):
            say("Their first sign-in binds the account's id; after that the login plays no part.")
        return 0

    return int(run_on_vault(body))


def _users_uninvite(args: argparse.Namespace) -> int:
    async def body(vault: Vault) -> int:
        withdrawn = await vault.github.revoke(args.github)
        say("Invitation withdrawn." if withdrawn else "No such invitation.")
        return 0 if withdrawn else 1

    return int(run_on_vault(body))


def _users_invites(_args: argparse.Namespace) -> int:
    async def body(vault: Vault) -> int:
        pending = await vault.github.invitations()
        for subject, invited_by in pending:
            say(f"{subject.replace(':', ' ', 1)}  (invited by {invited_by})")
        if not pending:
            say("No pending invitations.")
        return 0

    return int(run_on_vault(body))


def _users_link(args: argparse.Namespace) -> int:
    async def body(vault: Vault) -> int:
        user = await vault.github.link(args.name, args.github_id)
        say(f"User {user.name} now signs in as GitHub account {args.github_id}.")
        return 0

    return int(run_on_vault(body))
