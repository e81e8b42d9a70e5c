"""The `kriptik` argument parser, which never echoes an argument that could be a key.

argparse repeats what it could not parse: `kriptik keys add runpod rpa_...` (a key typed
where it does not belong) would print "unrecognized arguments: rpa_..." to the terminal,
and from there to logs and screenshots. `CliParser.error` replaces every argument of 8
or more characters that is not a command or option name with `<hidden>` (no provider key
is shorter); subparsers are `CliParser`s too, as argparse makes them of the parent's class.
`register_key_shaped` also hands key-shaped arguments to the redactor, so that no message
printed through `ui.cli.console` repeats them either.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, Final, NoReturn

from agent.guard import KEY_LIKE
from vault import REDACTOR

__all__ = ["HIDDEN", "CliParser", "register_key_shaped"]

HIDDEN: Final = "<hidden>"
_SHORTEST_KEY: Final = 8


def register_key_shaped(argv: Sequence[str]) -> None:
    """Register the key-shaped parts of `argv` with the redactor."""
    for arg in argv:
        for found in KEY_LIKE.finditer(arg):
            REDACTOR.register(found.group(0))


class CliParser(argparse.ArgumentParser):
    """argparse, minus echoing arguments in error messages."""

    _given: Sequence[str] = ()

    def parse_known_args(  # type: ignore[override]  # argparse's overloads, same behaviour
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        super().error(_hidden(message, self._given, self._words()))

    def _words(self) -> set[str]:
        """Command and option names of this parser and all below it (safe to repeat)."""
        words: set[str] = set()
        parsers: list[argparse.ArgumentParser] = [self]
        while parsers:
            parser = parsers.pop()
            for action in parser._actions:  # pyright: ignore[reportPrivateUsage] - argparse has no public list
                words |= set(action.option_strings)
                if isinstance(action, argparse._SubParsersAction):  # pyright: ignore[reportPrivateUsage]
                    choices: dict[str, argparse.ArgumentParser] = action.choices  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
                    words |= set(choices)
                    parsers += list(choices.values())
        return words


def _hidden(message: str, given: Sequence[str], words: set[str]) -> str:
    values = {
        part
        for arg in given
        for part in (arg, *arg.split("=", 1)[1:])
        if len(part) >= _SHORTEST_KEY and part not in words
    }
    for value in sorted(values, key=len, reverse=True):
        message = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", HIDDEN, message)
    return KEY_LIKE.sub(HIDDEN, message)
