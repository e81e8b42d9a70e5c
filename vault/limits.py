"""Per-user spend limits: what an admin set for a user, and what the user set for themselves.

A NULL admin column means the operator's default (the settings); a NULL own column means
the user set nothing. The user's own value only ever lowers a limit: the effective limit
is the smaller of the two. The table is `user_limits` (migration 0007).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, utcnow

__all__ = ["UserLimitsRecord"]


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
