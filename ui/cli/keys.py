"""`kriptik keys add|list|remove|check`: the user's provider keys, from the terminal."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, Final

from ui.cli.console import read_secret, run_command, run_on_vault, say, show_listing, warn
from vault.providers import PROVIDERS

if TYPE_CHECKING:
    from ui.cli import Subparsers
    from vault import CredentialView, Vault

_DEFAULT_USER = "admin"


def register(subparsers: Subparsers) -> None:
    keys = subparsers.add_parser("keys", help="add, list, check or remove provider keys")
    sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    providers = ", ".join(PROVIDERS)

    add = sub.add_parser("add", help="store a key (read from stdin or a hidden prompt)")
    add.add_argument("provider", metavar="PROVIDER", help=providers)
    add.add_argument("--label", default="default", help="name for a second key of a provider")
    add.add_argument("--user", default=_DEFAULT_USER, help="owner (default: admin)")
    add.add_argument("--no-validate", action="store_true", help="store without checking it")
    add.set_defaults(handler=_add)

    ls = sub.add_parser("list", help="list stored keys, masked")
    ls.add_argument("--user", default=_DEFAULT_USER)
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(handler=_list)

    rm = sub.add_parser("remove", help="delete a stored key")
    rm.add_argument("provider", metavar="PROVIDER", help=providers)
    rm.add_argument("--label", default="default")
    rm.add_argument("--user", default=_DEFAULT_USER)
    rm.set_defaults(handler=_remove)

    check = sub.add_parser("check", help="re-validate stored keys with each provider")
    check.add_argument("provider", metavar="PROVIDER", nargs="?", help=providers)
    check.add_argument("--user", default=_DEFAULT_USER)
    check.set_defaults(handler=_check)


def _add(args: argparse.Namespace) -> int:
    from vault import parse_provider

    provider = parse_provider(args.provider) if args.provider.lower() in PROVIDERS else None
    if provider is None:
        warn(f"error: unknown provider {args.provider!r}; choose one of: {', '.join(PROVIDERS)}")
        return 2
    secret = read_secret(f"{provider} key (input hidden): ")

    async def body() -> int:
        from tools.credentials import save_key
        from ui.root import opened_root, resolve_user

        async with opened_root() as root:
            user = await resolve_user(root.vault, args.user)
            result = await save_key(
                root.vault, root.settings, root.http, user_id=user.id, provider=provider,
                secret=secret, label=args.label, validate=not args.no_validate, actor="cli",
            )  # fmt: skip
        (say if result.view else warn)(result.message)
        return 0 if result.view else 1

    return int(run_command(body))


def _row(view: CredentialView) -> dict[str, Any]:
    return json.loads(view.model_dump_json(exclude={"tail"})) | {"masked": view.masked}


def _when(value: Any) -> str:
    return "-" if value is None else str(value)[:16].replace("T", " ")


_KEYS_HEADER: Final = (
    f"{'PROVIDER':<12} {'LABEL':<10} {'KEY':<9} {'CREATED':<17} {'LAST USED':<17} "
    f"{'VALIDATED':<17} STATUS"
)


def _key_line(v: CredentialView) -> str:
    status = {True: "valid", False: "rejected", None: "unchecked"}[v.validation_ok]
    extra = f" ({v.identity})" if v.identity else ""
    return (
        f"{v.provider:<12} {v.label:<10} {v.masked:<9} {_when(v.created_at):<17} "
        f"{_when(v.last_used_at):<17} {_when(v.last_validated_at):<17} {status}{extra}"
    )


def _list(args: argparse.Namespace) -> int:
    async def body(vault: Vault) -> int:
        from ui.root import resolve_user

        user = await resolve_user(vault, args.user)
        views = await vault.credentials.list(user.id)
        return show_listing(
            views, as_json=args.json, row=_row, line=_key_line, header=_KEYS_HEADER,
            empty=f"No keys stored for {args.user}. Add one with `kriptik keys add PROVIDER`.",
        )  # fmt: skip

    return int(run_on_vault(body))


def _remove(args: argparse.Namespace) -> int:
    async def body() -> int:
        from ui.root import opened_root, resolve_user
        from vault.credentials import DEFAULT_LABEL

        async with opened_root() as root:
            user = await resolve_user(root.vault, args.user)
            view = await root.vault.credentials.describe(user.id, args.provider, label=args.label)
            if view.connected_via is not None and args.label == DEFAULT_LABEL:
                # A connected account is revoked at the provider first, where it allows that.
                say(await root.connections.disconnect(user.id, view.provider))
                return 0
            await root.vault.credentials.remove(
                user.id, args.provider, label=args.label, actor="cli"
            )
        say(f"Removed the {args.provider} key ({args.label}).")
        return 0

    return int(run_command(body))


def _check(args: argparse.Namespace) -> int:
    async def body() -> int:
        from tools.credentials import check_stored_key
        from ui.root import opened_root, resolve_user

        failures = 0
        async with opened_root() as root:
            user = await resolve_user(root.vault, args.user)
            views = await root.vault.credentials.list(user.id)
            if args.provider:
                views = [v for v in views if v.provider == args.provider.lower()]
            if not views:
                say("No stored keys to check.")
            for view in views:
                result = await check_stored_key(
                    root.vault, root.settings, root.http, user_id=user.id,
                    provider=view.provider, label=view.label, actor="cli",
                )  # fmt: skip
                failures += result.outcome != "saved"
                say(f"{view.provider} ({view.label}, {view.masked}): {result.message}")
        return 1 if failures else 0

    return int(run_command(body))
