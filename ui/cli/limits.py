"""`kriptik admin limits set|show USER`: an admin's per-user spend limits and caps; and
`kriptik limits show|lower|clear`: a user's own view, and lowering their own budget.

```
kriptik admin limits set alice --monthly-budget 100 --max-live 3   (the rest unchanged;
kriptik admin limits set alice --max-live default                   "default": the settings')
kriptik admin limits show alice
kriptik limits lower --monthly-budget 20 --user alice               (never above the admin's)
kriptik limits clear --user alice                                   (the admin's apply again)
```
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ui.cli.console import run_on_vault, say

if TYPE_CHECKING:
    from ui.cli import Subparsers
    from vault import Vault
    from vault.limits import EffectiveLimits

_DEFAULT_USER = "admin"
# (flag, the limit it sets, what a number means), in the order `show` prints them.
_FLAGS = (
    ("--monthly-budget", "monthly_budget_usd", "monthly GPU budget (USD)"),
    ("--deployment-cap", "deployment_cap_usd", "most one deployment may cost (USD)"),
    ("--max-live", "max_live", "live endpoints at once"),
    ("--max-workers", "max_workers", "workers per endpoint"),
    ("--max-gpus", "max_gpus", "GPUs per worker"),
)


def _dollars_or_default(text: str) -> float | None:
    """A dollar limit on the command line: a number, or "default" (back to the settings')."""
    if text == "default":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected dollars or 'default', got {text!r}") from None


def _count_or_default(text: str) -> int | None:
    """A count limit on the command line: a whole number, or "default"."""
    if text == "default":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number or 'default', got {text!r}"
        ) from None


def register(subparsers: Subparsers) -> None:
    admin = subparsers.add_parser("admin", help="operator settings per user")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="AREA", required=True)
    limits = admin_sub.add_parser("limits", help="a user's spend limits and caps")
    sub = limits.add_subparsers(dest="limits_command", metavar="ACTION", required=True)
    put = sub.add_parser("set", help="set (or reset to 'default') a user's limits")
    put.add_argument("user", metavar="USER")
    for flag, name, what in _FLAGS:
        # SUPPRESS: a limit not named stays as it is (None would mean "back to default").
        kind = _dollars_or_default if name.endswith("_usd") else _count_or_default
        put.add_argument(flag, dest=name, type=kind, metavar="N|default", help=what,
                         default=argparse.SUPPRESS)  # fmt: skip
    put.set_defaults(handler=_admin_set)
    show = sub.add_parser("show", help="a user's effective limits and this month's spend")
    show.add_argument("user", metavar="USER")
    show.set_defaults(handler=_show)

    own = subparsers.add_parser("limits", help="your spend limits; lower your own budget")
    own_sub = own.add_subparsers(dest="own_command", metavar="ACTION", required=True)
    mine = own_sub.add_parser("show", help="your limits and this month's spend")
    lower = own_sub.add_parser("lower", help="lower your monthly budget or per-deployment cap")
    for flag, name, what in _FLAGS[:2]:
        lower.add_argument(flag, dest=name, type=float, metavar="USD", help=what)
    clear = own_sub.add_parser("clear", help="drop your own limits (the admin's apply)")
    for parser, handler in ((mine, _show), (lower, _lower), (clear, _clear)):
        parser.add_argument("--user", dest="user", default=_DEFAULT_USER, help="default: admin")
        parser.set_defaults(handler=handler)


def _admin_set(args: argparse.Namespace) -> int:
    given = {name: getattr(args, name) for _, name, _ in _FLAGS if hasattr(args, name)}
    if not given:
        say("Nothing to set: name at least one limit (see --help).")
        return 2

    async def body(vault: Vault) -> int:
        from ui.root import resolve_user

        user = await resolve_user(vault, args.user)
        await vault.limits.set_by_admin(user.id, **given)
        return await _print(vault, user.id, args.user)

    return int(run_on_vault(body))


def _show(args: argparse.Namespace) -> int:
    async def body(vault: Vault) -> int:
        from ui.root import resolve_user

        user = await resolve_user(vault, args.user)
        return await _print(vault, user.id, args.user)

    return int(run_on_vault(body))


def _lower(args: argparse.Namespace) -> int:
    if args.monthly_budget_usd is None and args.deployment_cap_usd is None:
        say("Nothing to lower: give --monthly-budget and/or --deployment-cap.")
        return 2

    async def body(vault: Vault) -> int:
        from ui.root import resolve_user

        user = await resolve_user(vault, args.user)
        await vault.limits.lower_own(
            user.id,
            monthly_budget_usd=args.monthly_budget_usd,
            deployment_cap_usd=args.deployment_cap_usd,
        )
        return await _print(vault, user.id, args.user)

    return int(run_on_vault(body))


def _clear(args: argparse.Namespace) -> int:
    async def body(vault: Vault) -> int:
        from ui.root import resolve_user

        user = await resolve_user(vault, args.user)
        await vault.limits.clear_own(user.id)
        return await _print(vault, user.id, args.user)

    return int(run_on_vault(body))


def _value(limits: EffectiveLimits, name: str) -> str:
    value = getattr(limits, name)
    return f"${value:.2f}" if name.endswith("_usd") else str(value)


async def _print(vault: Vault, user_id: str, name: str) -> int:
    limits = await vault.limits.effective(user_id)
    spent = await vault.limits.spent_this_month(user_id)
    say(f"Limits of {name} (default: the operator's settings; admin: set for this user; "
        "own: lowered by the user):")  # fmt: skip
    for _, field, what in _FLAGS:
        say(f"  {what:<36} {_value(limits, field):>9}  ({limits.source(field)})")
    left = max(limits.monthly_budget_usd - spent, 0.0)
    say(f"Spent this month: ${spent:.2f}; ${left:.2f} of ${limits.monthly_budget_usd:.2f} left.")
    return 0
