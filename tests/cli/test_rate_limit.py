"""Key checks are rate-limited per user and provider, with room to re-type a rejected key."""

from __future__ import annotations

import pytest

import tools.credentials
from tools.credentials import _Limiter  # pyright: ignore[reportPrivateUsage]

CHECKS_PER_WINDOW, MIN_CHECK_INTERVAL_S = 3, 30.0


def test_a_burst_then_a_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pinned here: other tests (and `kriptik chat`) turn the limit off for scripted runs.
    monkeypatch.setattr(tools.credentials, "CHECKS_PER_WINDOW", CHECKS_PER_WINDOW)
    monkeypatch.setattr(tools.credentials, "MIN_CHECK_INTERVAL_S", MIN_CHECK_INTERVAL_S)
    now = [0.0]
    limiter = _Limiter(clock=lambda: now[0])
    assert all(limiter.allow("u1", "runpod") for _ in range(CHECKS_PER_WINDOW))
    assert not limiter.allow("u1", "runpod")
    # Other users and other providers have their own budget.
    assert limiter.allow("u2", "runpod") and limiter.allow("u1", "github")
    now[0] += MIN_CHECK_INTERVAL_S
    assert limiter.allow("u1", "runpod")
