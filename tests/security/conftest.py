"""Fixtures for the security tests: the agent's (every provider fake on loopback, a SQLite
vault pointing at them, a user, a scripted chat), shared rather than copied."""

from __future__ import annotations

from tests.agent.conftest import (
    agent_settings,
    agent_vault,
    chat,
    fake_stack,
    fakes,
    http,
    user,
)

__all__ = ["agent_settings", "agent_vault", "chat", "fake_stack", "fakes", "http", "user"]
