"""Per-user spend limits: what an admin set for a user, and what the user set for themselves.

A NULL admin column means the operator's default (the settings); a NULL own column means
the user set nothing. The user's own value only ever lowers a limit: the effective limit
is the smaller of the two. The table is `user_limits` (migration 0007).

```
effective limit = min(admin's value or the settings' default, the user's own value if set)
spent this month = each deployment's cost (the larger of our estimate and the provider's
                   bill), spread evenly over its life, for the part of it in this UTC month
```
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Float, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from vault.deployments import DeploymentCaps, DeploymentRecord
from vault.errors import VaultError
from vault.models import Base, utcnow
from vault.settings import Settings

__all__ = [
    "ADMIN_LIMITS",
    "EffectiveLimits",
    "LimitRefused",
    "LimitsStore",
    "UserLimitsRecord",
    "month_start",
]

# The limits an admin may set per user, with the smallest value each may take.
ADMIN_LIMITS: Final[dict[str, float]] = {
    "monthly_budget_usd": 0.0,
    "deployment_cap_usd": 0.0,
    "max_live": 0,
    "max_workers": 1,
    "max_gpus": 1,
}
_DOLLARS: Final = ("monthly_budget_usd", "deployment_cap_usd")


class LimitRefused(VaultError):
    """A limit that cannot be set (raised above the admin's, or out of range)."""


class UserLimitsRecord(Base):
    __tablename__ = "user_limits"

    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id"), primary_key=True)
    # Set by an admin for this user (NULL: the operator's default).
    monthly_budget_usd: Mapped[float | None] = mapped_column(Float, default=None)
    deployment_cap_usd: Mapped[float | None] = mapped_column(Float, default=None)
    max_live: Mapped[int | None] = mapped_column(Integer, default=None)
    max_workers: Mapped[int | None] = mapped_column(Integer, default=None)
    max_gpus: Mapped[int | None] = mapped_column(Integer, default=None)
    # Set by the user (NULL: none); only ever lowers the admin's or the default.
    own_monthly_budget_usd: Mapped[float | None] = mapped_column(Float, default=None)
    own_deployment_cap_usd: Mapped[float | None] = mapped_column(Float, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EffectiveLimits(BaseModel):
    """What one user may spend and run, all sources applied.

    Attributes:
        monthly_budget_usd: GPU spend per UTC calendar month.
        deployment_cap_usd: The most one deployment may cost over its lifetime.
        max_live: Endpoints that may be live at once.
        max_workers: Highest `workersMax` of one endpoint.
        max_gpus: GPUs per worker.
        budget_ceiling_usd: The admin's monthly budget for this user, or the default: the
            most the user may set their own to.
        cap_ceiling_usd: The same for the per-deployment cap.
        admin_set: The limits an admin set for this user (the others are the defaults).
        own_set: The dollar limits the user lowered themselves.
    """

    model_config = ConfigDict(frozen=True)

    monthly_budget_usd: float
    deployment_cap_usd: float
    max_live: int
    max_workers: int
    max_gpus: int
    budget_ceiling_usd: float
    cap_ceiling_usd: float
    admin_set: frozenset[str] = frozenset()
    own_set: frozenset[str] = frozenset()

    @property
    def caps(self) -> DeploymentCaps:
        """The counts the deployment store enforces when it records a deployment."""
        return DeploymentCaps(
            max_live=self.max_live, max_workers=self.max_workers, max_gpus=self.max_gpus
        )

    def source(self, name: str) -> str:
        """Where limit `name` comes from: "own", "admin" or "default"."""
        if name in self.own_set:
            return "own"
        return "admin" if name in self.admin_set else "default"


def month_start(now: datetime) -> datetime:
    """The first instant of `now`'s UTC calendar month."""
    return _utc(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else (
        start.replace(month=start.month + 1)
    )  # fmt: skip


def _utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without a zone; every one we store is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _set(row: UserLimitsRecord | None, name: str) -> float | None:
    value: float | None = None if row is None else getattr(row, name)
    return value


def _admin_or(row: UserLimitsRecord | None, name: str, default: float) -> float:
    value = _set(row, name)
    return default if value is None else value


def _lowest(limit: float, own: float | None) -> float:
    return limit if own is None else min(limit, own)


def _effective(settings: Settings, row: UserLimitsRecord | None) -> EffectiveLimits:
    defaults = {
        "monthly_budget_usd": settings.monthly_budget_usd,
        "deployment_cap_usd": settings.deployment_cap_usd,
        "max_live": settings.max_live_deployments,
        "max_workers": settings.max_workers,
        "max_gpus": settings.max_gpus_per_endpoint,
    }
    ceiling = {n: _admin_or(row, n, default) for n, default in defaults.items()}
    own = {n: _set(row, f"own_{n}") for n in _DOLLARS}
    return EffectiveLimits(
        monthly_budget_usd=_lowest(ceiling["monthly_budget_usd"], own["monthly_budget_usd"]),
        deployment_cap_usd=_lowest(ceiling["deployment_cap_usd"], own["deployment_cap_usd"]),
        max_live=int(ceiling["max_live"]),
        max_workers=int(ceiling["max_workers"]),
        max_gpus=int(ceiling["max_gpus"]),
        budget_ceiling_usd=ceiling["monthly_budget_usd"],
        cap_ceiling_usd=ceiling["deployment_cap_usd"],
        admin_set=frozenset(n for n in ADMIN_LIMITS if _set(row, n) is not None),
        own_set=frozenset(n for n, v in own.items() if v is not None),
    )


def _share_in(record: DeploymentRecord, start: datetime, end: datetime, now: datetime) -> float:
    """The part of a deployment's cost that falls in [start, end): its cost spread evenly
    over its life (creation to its end, or to now while it lives)."""
    cost = max(record.cost_usd, record.billed_usd or 0.0)
    born = _utc(record.created_at)
    died = _utc(record.ended_at) if record.ended_at is not None else max(now, born)
    if died <= born:
        return cost if start <= born < end else 0.0
    overlap = (min(died, end) - max(born, start)).total_seconds()
    return cost * max(overlap, 0.0) / (died - born).total_seconds()


class LimitsStore:
    """Per-user limits over the vault's sessions, with the operator's defaults."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    async def effective(self, user_id: str) -> EffectiveLimits:
        """The user's limits: the admin's (or the default), lowered by their own."""
        async with self._sessions() as session:
            return _effective(self._settings, await session.get(UserLimitsRecord, user_id))

    async def set_by_admin(self, user_id: str, **limits: float | None) -> EffectiveLimits:
        """Set (a number) or clear (None: back to the default) an admin's limits for a user.

        Raises:
            LimitRefused: A name that is not a limit, or a value below its floor.
        """
        for name, value in limits.items():
            if name not in ADMIN_LIMITS:
                raise LimitRefused(f"{name!r} is not a limit; the limits are "
                                   f"{', '.join(ADMIN_LIMITS)}")  # fmt: skip
            if value is not None and value < ADMIN_LIMITS[name]:
                raise LimitRefused(f"{name} must be at least {ADMIN_LIMITS[name]:g}")
        values: dict[str, Any] = {
            n: (v if n in _DOLLARS or v is None else int(v)) for n, v in limits.items()
        }
        return await self._write(user_id, values)

    async def lower_own(
        self,
        user_id: str,
        *,
        monthly_budget_usd: float | None = None,
        deployment_cap_usd: float | None = None,
    ) -> EffectiveLimits:
        """Set the user's own monthly budget and/or per-deployment cap (None: unchanged).

        Raises:
            LimitRefused: A value above the admin's limit (or the default), or below zero.
        """
        now = await self.effective(user_id)
        asked = (
            ("monthly GPU budget", monthly_budget_usd, now.budget_ceiling_usd),
            ("per-deployment cap", deployment_cap_usd, now.cap_ceiling_usd),
        )
        for label, value, ceiling in asked:
            if value is not None and value < 0:
                raise LimitRefused(f"your {label} cannot be below $0")
            if value is not None and value > ceiling:
                raise LimitRefused(
                    f"your {label} can be at most ${ceiling:.2f}, the limit an admin set "
                    f"(or the default): you may lower it, not raise it. Ask an admin to "
                    "raise it (`kriptik admin limits set USER ...`)"
                )
        values = {"own_monthly_budget_usd": monthly_budget_usd,
                  "own_deployment_cap_usd": deployment_cap_usd}  # fmt: skip
        return await self._write(user_id, {n: v for n, v in values.items() if v is not None})

    async def clear_own(self, user_id: str) -> EffectiveLimits:
        """Drop the user's own limits: the admin's (or the default) apply again."""
        return await self._write(
            user_id, {"own_monthly_budget_usd": None, "own_deployment_cap_usd": None}
        )

    async def spent_this_month(self, user_id: str, *, now: datetime | None = None) -> float:
        """The user's GPU spend in `now`'s UTC calendar month (default: this one)."""
        moment = _utc(now or utcnow())
        start = month_start(moment)
        end = _next_month(start)
        query = select(DeploymentRecord).where(
            DeploymentRecord.user_id == user_id,
            DeploymentRecord.created_at < end,
            DeploymentRecord.ended_at.is_(None) | (DeploymentRecord.ended_at >= start),
        )
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        return sum(_share_in(row, start, end, moment) for row in rows)

    async def _write(self, user_id: str, values: dict[str, Any]) -> EffectiveLimits:
        async with self._sessions.begin() as session:
            row = await session.get(UserLimitsRecord, user_id, with_for_update=True)
            if row is None:
                row = UserLimitsRecord(user_id=user_id)
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            await session.flush()
            return _effective(self._settings, row)
