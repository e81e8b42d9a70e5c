"""`kriptik`: the console script.

Each command group lives in its own module of this package (`ui/cli/<group>.py`) exposing
`register(subparsers) -> None`; the module sets `handler=` on its parsers with
`set_defaults(handler=fn)` where `fn(args) -> int`. Heavy imports stay inside the
handlers so `kriptik --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    # argparse exposes no public name for the object add_subparsers() returns.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]  # pyright: ignore[reportPrivateUsage]

# Command groups, in help order. Add a module here to add a command group.
_COMMAND_MODULES = (
    "ui.cli.serve",
    "ui.cli.demo",
    "ui.cli.keys",
    "ui.cli.admin",
    "ui.cli.limits",
    "ui.cli.size",
    "ui.cli.comfy",
    "ui.cli.deploy",
    "ui.cli.fakes",
    "ui.cli.audit",
    "ui.cli.chat",
)


def build_parser() -> argparse.ArgumentParser:
    from ui.cli.parser import CliParser

    # CliParser: argparse's errors never echo an argument that could be a key.
    parser = CliParser(
        prog="kriptik",
        description="KripTik AI: from a HuggingFace model to a working deployment.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ui.cli.parser import register_key_shaped

    # A key typed on the command line (where it does not belong) is never printed back.
    register_key_shaped(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    handler = cast("Callable[[argparse.Namespace], int]", args.handler)
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
