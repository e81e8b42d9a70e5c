"""Fixtures for the security tests: the agent tests' own (every provider fake on loopback,
a SQLite vault pointing at them, a user, a scripted chat), shared rather than copied.
Every fixture that tests/agent/conftest.py defines is taken, whatever its name, so this
file follows that one as it changes."""

from __future__ import annotations

from typing import Any

import tests.agent.conftest as _agent
from tests.security.approval_world import launched, stack, world

__all__ = ["launched", "stack", "world"]  # the approval-binding tests' world, with the pipeline


def _is_fixture(value: Any) -> bool:
    return type(value).__name__ == "FixtureFunctionDefinition"


globals().update({name: value for name, value in vars(_agent).items() if _is_fixture(value)})
