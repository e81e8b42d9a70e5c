"""Key checks are rate-limited per user and provider, with room to re-type a rejected key."""

from __future__ import annotations

import pytest

import tools.credentials
from tools.credentials import Limiter

CHECKS_PER_WINDOW, MIN_CHECK_INTERVAL_S = 3, 30.0


def test_a_burst_then_a_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pinned here: other tests turn the limit off for scripted runs.
    monkeypatch.setattr(tools.credentials, "CHECKS_PER_WINDOW", CHECKS_PER_WINDOW)
    monkeypatch.setattr(tools.credentials, "MIN_CHECK_INTERVAL_S", MIN_CHECK_INTERVAL_S)
    now = [0.0]
    limiter = Limiter(clock=lambda: now[0])
    assert all(limiter.allow("u1", "runpod") for _ in range(CHECKS_PER_WINDOW))
    assert not limiter.allow("u1", "runpod")
    # Other users and other providers have their own budget.
    assert limiter.allow("u2", "runpod") and limiter.allow("u1", "github")
    now[0] += MIN_CHECK_INTERVAL_S
    assert limiter.allow("u1", "runpod")


def test_a_scripted_session_takes_its_own_limiter_and_leaves_the_process_one_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tools.credentials, "MIN_CHECK_INTERVAL_S", MIN_CHECK_INTERVAL_S)
    now = [0.0]
    scripted = Limiter(clock=lambda: now[0], window_s=0.0)
    assert all(scripted.allow("u1", "runpod") for _ in range(10 * CHECKS_PER_WINDOW))
    shared = Limiter(clock=lambda: now[0])
    assert [shared.allow("u1", "runpod") for _ in range(CHECKS_PER_WINDOW + 1)][-1] is False
    assert tools.credentials.MIN_CHECK_INTERVAL_S == MIN_CHECK_INTERVAL_S
