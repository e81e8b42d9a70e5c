"""The redactor masks raw, base64 and URL-encoded forms, in text and in log records."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.redact import MASK, REDACTOR, Redactor, install_log_redaction, redact

SECRET = "rpa_Q2x9+/vK7Hq2&=zz"


def test_raw_base64_and_url_encoded_forms_are_masked() -> None:
    redactor = Redactor()
    redactor.register(SECRET)
    basic = base64.b64encode(f"user:{SECRET}".encode()).decode()
    samples = [
        f"Authorization: Bearer {SECRET}",
        f"Authorization: Basic {basic}",
        "https://example.invalid/?" + urlencode({"key": SECRET}),
        f"path/{quote(SECRET, safe='')}/x",
        f"form={quote_plus(SECRET)}",
        base64.urlsafe_b64encode(b"xx" + SECRET.encode()).decode(),
    ]
    for sample in samples:
        out = redactor.redact(sample)
        assert MASK in out, sample
        assert SECRET not in out
        assert basic not in out


@given(
    prefix=st.binary(max_size=5),
    secret=st.text(min_size=8, max_size=80),
    suffix=st.binary(max_size=5),
)
def test_base64_of_any_secret_at_any_offset_is_masked(
    prefix: bytes, secret: str, suffix: bytes
) -> None:
    redactor = Redactor()
    redactor.register(secret)
    encoded = base64.b64encode(prefix + secret.encode() + suffix).decode()
    assert MASK in redactor.redact(encoded)


def test_short_strings_are_not_registered() -> None:
    redactor = Redactor()
    redactor.register("abc")
    assert redactor.redact("abc abc") == "abc abc"


def test_log_records_and_tracebacks_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    REDACTOR.register(SECRET)
    logger = logging.getLogger("kriptik.test")
    with caplog.at_level(logging.INFO):
        logger.info("calling with %s", SECRET)
        try:
            raise RuntimeError(f"boom {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    assert SECRET not in caplog.text
    assert caplog.text.count(MASK) >= 2
    assert redact(SECRET) == MASK
