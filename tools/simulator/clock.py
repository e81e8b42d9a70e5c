"""A fake clock for retry and polling tests: `sleep` records the wait and moves time on.

Pass `Retry(sleep=clock.sleep, clock=clock.now)` to a client; then `clock.sleeps` is the
exact list of waits the client asked for, and no test ever really sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Time that passes only when code sleeps on it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)

    @property
    def slept(self) -> float:
        """Total seconds slept."""
        return sum(self.sleeps)
