"""The redactor: every decrypted secret is registered here, and every string that leaves
the process (log records, audit rows, exception text, LLM requests) passes through
`redact()`.

A secret can leak in other encodings than its raw form: base64 inside an HTTP Basic
header or a data URL, percent-encoded inside a query string. We mask those too. A base64
encoding depends on the secret's offset within the encoded string (mod 3), so for each
offset we keep only the characters that do not touch bytes outside the secret.
"""

from __future__ import annotations

import base64
import logging
import re
import sys
import threading
import traceback
from types import TracebackType
from urllib.parse import quote, quote_plus

MASK = "[REDACTED]"
# Shorter strings would mask ordinary words; no real key is this short.
_MIN_LEN = 8


def _b64_forms(secret: bytes) -> set[str]:
    forms: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode()
        # Skip the characters that mix in the padding bytes before and the unknown bytes
        # after the secret.
        start = (offset * 8 + 5) // 6
        end = ((offset + len(secret)) * 8) // 6
        core = encoded[start:end]
        if len(core) >= _MIN_LEN:
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
    return forms


def encoded_forms(secret: str) -> set[str]:
    """Every form of `secret` that the redactor masks."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    forms |= _b64_forms(secret.encode())
    return {form for form in forms if len(form) >= _MIN_LEN}


_Trie = dict[str, "_Trie"]


def _trie_pattern(forms: set[str]) -> str:
    """One regex for every form, shaped as a trie: the engine then reads each character of
    the text once per position instead of trying every form there (hundreds of forms,
    with a few dozen keys registered). Greedy, so the longest form at a position wins."""
    trie: _Trie = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}  # a form ends here

    def build(node: _Trie) -> str:
        # Runs of single characters are joined in a loop: recursion only where forms part,
        # so a long secret (a service-account JSON) does not nest one call per character.
        run: list[str] = []
        while "" not in node and len(node) == 1:
            char, node = next(iter(node.items()))
            run.append(re.escape(char))
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return "".join(run)
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return "".join(run) + (f"(?:{body})?" if "" in node else body)

    return build(trie)


class Redactor:
    """Masks registered secrets in text. Thread-safe; one per process (`REDACTOR`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, secret: str) -> None:
        if len(secret) < _MIN_LEN:
            return
        forms = encoded_forms(secret)
        with self._lock:
            if forms <= self._forms:
                return
            self._forms |= forms
            self._pattern = re.compile(_trie_pattern(self._forms))

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def clear(self) -> None:
        with self._lock:
            self._forms.clear()
            self._pattern = None


REDACTOR = Redactor()


def redact(text: str) -> str:
    return REDACTOR.redact(text)


def install_log_redaction() -> None:
    """Redact every log record at creation, whichever logger or handler it goes to, and
    the interpreter's own crash dumps (uncaught exceptions in any thread).

    A record factory sees records before any handler formats them, so third-party
    loggers (httpx, uvicorn, chainlit) are covered too. Exception text is rendered and
    redacted here, because handlers would otherwise format the traceback later, raw.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_kriptik_redacting", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)  # pyright: ignore[reportArgumentType]
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    factory._kriptik_redacting = True  # type: ignore[attr-defined]  # marker against double install
    logging.setLogRecordFactory(factory)
    _install_crash_redaction()


def _print_redacted(
    exc_type: type[BaseException],
    value: BaseException,
    tb: TracebackType | None,
    *,
    header: str = "",
) -> None:
    text = "".join(traceback.format_exception(exc_type, value, tb))
    sys.stderr.write(redact(header + text))
    sys.stderr.flush()


def _install_crash_redaction() -> None:
    """Crash dumps bypass logging: the interpreter prints an uncaught exception (main
    thread, other threads) to stderr itself. Print those through the redactor too."""

    def excepthook(
        exc_type: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, value, tb)
            return
        _print_redacted(exc_type, value, tb)

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "unknown"
        value = args.exc_value or args.exc_type()
        header = f"Exception in thread {name}:\n"
        _print_redacted(args.exc_type, value, args.exc_traceback, header=header)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
