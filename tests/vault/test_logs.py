"""JSON log lines (`vault.logs`): one object per line that parses, with the user and
deployment ids where they were set, and a registered secret nowhere in them: not in a
message, not in its arguments, not in an exception's text or traceback."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.trace import NonRecordingSpan, SpanContext, use_span

from vault.logs import JsonFormatter, install_log_format, log_context, tag_task_logs
from vault.redact import MASK, REDACTOR, install_log_redaction

SECRET = "sk-or-v1-planted+/Secret7Qz"  # a test's planted secret


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own writing JSON lines into a buffer, with the secret registered."""
    REDACTOR.register(SECRET)
    install_log_redaction()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("kriptik.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def _parsed(buffer: io.StringIO) -> list[dict[str, object]]:
    text = buffer.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_each_line_is_one_json_object_with_its_fields(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    logger.info("first\nsecond line of the same record")
    logger.warning("plain %s", "args")
    first, second = _parsed(buffer)
    assert set(first) == {
        "time", "level", "logger", "message", "trace_id", "user_id", "deployment_id",
    }  # fmt: skip
    assert first["message"] == "first\nsecond line of the same record"
    assert (second["level"], second["logger"]) == ("WARNING", "kriptik.test.logs")
    assert second["message"] == "plain args"
    assert str(second["time"]).endswith("+00:00")
    assert second["trace_id"] is None and second["user_id"] is None


def test_a_planted_secret_appears_nowhere(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = lines
    logger.info("key %s stored", SECRET)
    logger.info(f"inline {SECRET}")
    try:
        raise ValueError(f"the provider said no to {SECRET}")
    except ValueError:
        logger.exception("call failed with %r", {"token": SECRET})
    # A record made by a plain factory (before redaction was installed, or bypassing it).
    raw = logging.LogRecord("kriptik.raw", logging.ERROR, __file__, 1, SECRET, None, None)
    buffer.write(JsonFormatter().format(raw) + "\n")
    text = buffer.getvalue()
    assert SECRET not in text
    assert SECRET not in text.encode().decode("unicode_escape")  # nor JSON-escaped
    records = _parsed(buffer)
    assert all(MASK in str(record["message"]) for record in records)
    assert "ValueError" in str(records[2]["exception"])
    assert MASK in str(records[2]["exception"])


def test_an_exception_formatted_late_is_redacted(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    try:
        raise RuntimeError(SECRET)
    except RuntimeError as error:
        # exc_info given after the record was made: the factory saw no exception.
        record = logger.makeRecord("kriptik.late", logging.ERROR, __file__, 1, "late", (), None)
        record.exc_info = (RuntimeError, error, error.__traceback__)
        record.exc_text = None
    logger.handle(record)
    assert SECRET not in buffer.getvalue()
    assert record.exc_text is not None and SECRET not in record.exc_text  # cached, redacted


async def test_user_and_deployment_ids_appear_when_set(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    with log_context(deployment_id="dep_123"):
        with log_context(user_id="usr_9"):
            logger.info("both")
        logger.info("deployment only")
    logger.info("neither")

    async def turn() -> None:  # a chat turn's own task
        tag_task_logs(user_id="usr_turn")
        logger.info("in the turn")

    await asyncio.create_task(turn())
    logger.info("after the turn")
    ids = [(r["user_id"], r["deployment_id"]) for r in _parsed(buffer)]
    assert ids == [
        ("usr_9", "dep_123"), (None, "dep_123"), (None, None), ("usr_turn", None), (None, None),
    ]  # fmt: skip


def test_the_trace_id_is_the_current_spans(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = lines
    context = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=False)
    with use_span(NonRecordingSpan(context)):
        logger.info("in a span")
    logger.info("outside")
    inside, outside = _parsed(buffer)
    assert inside["trace_id"] == f"{0xABC:032x}"
    assert outside["trace_id"] is None


def test_install_gives_the_root_handlers_json_and_text_leaves_them() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    before = {h: h.formatter for name in ("", "uvicorn") for h in logging.getLogger(name).handlers}
    root.addHandler(handler)
    try:
        install_log_format("text")
        assert not isinstance(handler.formatter, JsonFormatter)
        install_log_format("json")
        assert isinstance(handler.formatter, JsonFormatter)
    finally:
        root.removeHandler(handler)
        for other, formatter in before.items():  # pytest's own capture handlers
            other.setFormatter(formatter)
