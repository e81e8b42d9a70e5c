"""Log lines for people or for a log pipeline (`Settings.log_format`).

    install_log_format("json")             # the chat app, at start-up
    with log_context(deployment_id=id):    # a deployment's workflow
        ...                                # every record inside carries the id
    tag_task_logs(user_id=user.id)         # a chat turn's own task, from here on

"json" writes one JSON object per line: `time` (UTC, ISO 8601), `level`, `logger`,
`message`, `exception` (when there is one), and `trace_id` (OpenTelemetry's current span,
else null), `user_id` and `deployment_id` (set where a chat turn and a deployment's
workflow run, else null). "text" leaves the handlers' formats as they are.

Every value goes through the redactor here as well, not only at record creation
(`vault.redact.install_log_redaction`): a record made before that was installed, or an
exception formatted later, would otherwise reach the line raw.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Generator
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final, Literal

from vault.redact import redact

__all__ = ["JsonFormatter", "LogFormat", "install_log_format", "log_context", "tag_task_logs"]

LogFormat = Literal["text", "json"]

# The loggers whose handlers write lines: the root (Chainlit's `basicConfig`) and
# uvicorn's, which keep their own handlers and do not propagate.
_WRITING_LOGGERS: Final = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
_user_id: ContextVar[str | None] = ContextVar("kriptik_log_user_id", default=None)
_deployment_id: ContextVar[str | None] = ContextVar("kriptik_log_deployment_id", default=None)


@contextlib.contextmanager
def log_context(*, user_id: str | None = None, deployment_id: str | None = None) -> Generator[None]:
    """Tag every record logged inside with these ids (those given; the others are kept)."""
    tokens = [
        (var, var.set(value))
        for var, value in ((_user_id, user_id), (_deployment_id, deployment_id))
        if value is not None
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def tag_task_logs(*, user_id: str | None = None, deployment_id: str | None = None) -> None:
    """Tag every record the current task logs from now on, and the tasks it starts, with
    these ids (those given). Only where the task is one of its own (a chat turn's): a task
    runs in a copy of its creator's context, so the tags end with it."""
    if user_id is not None:
        _user_id.set(user_id)
    if deployment_id is not None:
        _deployment_id.set(deployment_id)


@cache
def _current_span() -> Any:
    """OpenTelemetry's `get_current_span`, or None where OpenTelemetry is not installed."""
    try:
        from opentelemetry.trace import get_current_span
    except ImportError:  # pragma: no cover - it comes with Chainlit
        return None
    return get_current_span


def _trace_id() -> str | None:
    current = _current_span()
    if current is None:
        return None
    context = current().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def _clean(value: str | None) -> str | None:
    return None if value is None else redact(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (the module docstring lists its keys)."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # bad %-arguments: log what we have
            message = str(record.msg)
        line: dict[str, str | None] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(message),
            "trace_id": _trace_id(),
            "user_id": _clean(_user_id.get()),
            "deployment_id": _clean(_deployment_id.get()),
        }
        if record.exc_info and not record.exc_text:
            # Cached on the record for other handlers too: redacted before it is kept.
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exception"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line)


def install_log_format(log_format: LogFormat) -> None:
    """Give the process's writing handlers `log_format` ("text" leaves them as they are).
    With "json" and no handler yet, the root gets one on stderr. Safe to call again (the
    chat app does once uvicorn has set up its own loggers)."""
    if log_format == "text":
        return
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    formatter = JsonFormatter()
    for name in _WRITING_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not isinstance(handler.formatter, JsonFormatter):
                handler.setFormatter(formatter)
