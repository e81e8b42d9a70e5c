"""`PlanError`, on its own so that the planners (`plan`, `target_pick`) share it without
importing each other."""

from __future__ import annotations

__all__ = ["PlanError"]


class PlanError(ValueError):
    """The deployment cannot be planned; the message says what to change."""
