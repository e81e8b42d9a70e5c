"""Deployment records: one row per GPU deployment, with every resource id it created.

A record is written before anything is created on RunPod, and each resource id is saved
the moment the resource exists, so a crash never loses track of something that costs
money: teardown works from these ids (and from the names that carry the deployment id).

Every read that a user triggers filters on the owner's `user_id` in SQL. The per-user cap
on live deployments is checked in the same transaction that inserts the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from vault.errors import VaultError
from vault.models import Base, User, new_id, utcnow

__all__ = [
    "DEPLOYMENT_STATES",
    "LIVE_STATES",
    "DeploymentCapReached",
    "DeploymentCaps",
    "DeploymentNotFound",
    "DeploymentRecord",
    "DeploymentState",
    "DeploymentStore",
    "DeploymentView",
]

DeploymentState = Literal[
    "planned",
    "building",
    "creating",
    "waiting",
    "testing",
    "publishing",
    "ready",
    "needs_key",
    "failed",
    "cancelled",
    "tearing_down",
    "torn_down",
]
DEPLOYMENT_STATES: Final[tuple[DeploymentState, ...]] = get_args(DeploymentState)
# States in which a deployment may be running workers (or is about to): these count
# against the per-user cap. A failed deployment is scaled to zero workers first.
LIVE_STATES: Final[frozenset[DeploymentState]] = frozenset(
    {"planned", "building", "creating", "waiting", "testing", "publishing", "ready", "needs_key"}
)
# Fields the pipeline may change after creation (ids, state, cost), and nothing else.
_UPDATABLE: Final = frozenset(
    {
        "state",
        "stage",
        "message",
        "image",
        "image_digest",
        "registry_auth_id",
        "template_id",
        "endpoint_id",
        "urls",
        "cost_usd",
        "ready_at",
        "ended_at",
        "workers_max",
        "workers_min",
        "expires_at",
        "last_active_at",
        "warned_at",
        "cost_accrued_to",
        "billed_usd",
        "billed_at",
        "ttl_s",
        "idle_limit_s",
    }
)


class DeploymentNotFound(VaultError):
    pass


class DeploymentCapReached(VaultError):
    pass


class DeploymentCaps(BaseModel):
    """The counts one user may run, checked as a deployment is recorded. They come from the
    user's effective limits (`vault.limits.EffectiveLimits.caps`: the admin's or the
    settings' defaults), never from constants here.

    Attributes:
        max_live: Deployments that may run at once (endpoints that can start workers).
        max_workers: Highest `workersMax` one endpoint may have.
        max_gpus: GPUs per worker.
    """

    model_config = ConfigDict(frozen=True)

    max_live: int = Field(ge=0)
    max_workers: int = Field(ge=1)
    max_gpus: int = Field(ge=1)


class DeploymentRecord(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # No ON DELETE CASCADE: a user with paid resources must not vanish with them untracked.
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    thread_id: Mapped[str | None] = mapped_column(String(128), default=None)
    repo_id: Mapped[str] = mapped_column(String(200))
    revision: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="planned")
    stage: Mapped[str | None] = mapped_column(String(32), default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    name: Mapped[str] = mapped_column(String(191))
    image: Mapped[str | None] = mapped_column(String(300), default=None)
    image_digest: Mapped[str | None] = mapped_column(String(100), default=None)
    registry_auth_id: Mapped[str | None] = mapped_column(String(64), default=None)
    template_id: Mapped[str | None] = mapped_column(String(64), default=None)
    endpoint_id: Mapped[str | None] = mapped_column(String(64), default=None)
    gpu_pools: Mapped[list[str]] = mapped_column(JSON, default=list)
    gpu_count: Mapped[int] = mapped_column(Integer, default=1)
    workers_min: Mapped[int] = mapped_column(Integer, default=0)
    workers_max: Mapped[int] = mapped_column(Integer, default=1)
    idle_timeout_s: Mapped[int] = mapped_column(Integer, default=5)
    usd_per_second: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    urls: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    # Spend controls (migration 0007). NULL in rows from before them. `ttl_s` and
    # `idle_limit_s` are what the user approved; `expires_at` moves when they extend it.
    ttl_s: Mapped[int | None] = mapped_column(Integer, default=None)
    idle_limit_s: Mapped[int | None] = mapped_column(Integer, default=None)
    cost_cap_usd: Mapped[float | None] = mapped_column(Float, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_active_at: Mapped[datetime | None] = mapped_column(default=None)
    warned_at: Mapped[datetime | None] = mapped_column(default=None)
    # `cost_usd` is accrued up to `cost_accrued_to`; `billed_usd` is what the provider's
    # billing reported at `billed_at` (NULL: unknown, which is shown as unknown, never $0).
    cost_accrued_to: Mapped[datetime | None] = mapped_column(default=None)
    billed_usd: Mapped[float | None] = mapped_column(Float, default=None)
    billed_at: Mapped[datetime | None] = mapped_column(default=None)


class DeploymentView(BaseModel):
    """A deployment as code and users see it (no ORM session attached)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: str
    user_id: str
    thread_id: str | None
    repo_id: str
    revision: str
    kind: str
    state: DeploymentState
    stage: str | None
    message: str | None
    name: str
    image: str | None
    image_digest: str | None
    registry_auth_id: str | None
    template_id: str | None
    endpoint_id: str | None
    gpu_pools: list[str]
    gpu_count: int
    workers_min: int
    workers_max: int
    idle_timeout_s: int
    usd_per_second: float
    cost_usd: float
    urls: dict[str, Any]
    plan: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    ready_at: datetime | None
    ended_at: datetime | None
    ttl_s: int | None = None
    idle_limit_s: int | None = None
    cost_cap_usd: float | None = None
    expires_at: datetime | None = None
    last_active_at: datetime | None = None
    warned_at: datetime | None = None
    cost_accrued_to: datetime | None = None
    billed_usd: float | None = None
    billed_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


class DeploymentStore:
    """Deployment records over the vault's sessions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self,
        user_id: str,
        *,
        caps: DeploymentCaps,
        deployment_id: str | None = None,
        **fields: Any,
    ) -> DeploymentView:
        """Insert a `planned` record, refusing when the user is at `caps.max_live`.

        Raises:
            DeploymentCapReached: Too many live deployments, or `workers_max` or `gpu_count`
                above the caps.
        """
        _check_counts(caps, workers=fields.get("workers_max", 1), gpus=fields.get("gpu_count", 1))
        async with self._sessions.begin() as session:
            # Insert first, then count: the INSERT takes SQLite's write lock (so concurrent
            # creates queue up behind it), and on PostgreSQL the user's row is locked, so
            # two requests can never both see room under the cap.
            await session.execute(select(User.id).where(User.id == user_id).with_for_update())
            row = DeploymentRecord(id=deployment_id or new_id(), user_id=user_id, **fields)
            session.add(row)
            await session.flush()
            live = await self._live_count(session, user_id)
            if live > caps.max_live:
                raise DeploymentCapReached(
                    f"you have {live - 1} live deployment(s) and your limit is {caps.max_live}: "
                    "tear one down first (/deployments in the chat, or `kriptik deployments "
                    "teardown ID`), or ask an admin to raise it (`kriptik admin limits set "
                    "USER --max-live N`)"
                )
            return DeploymentView.model_validate(row)

    async def get(self, deployment_id: str, *, user_id: str | None) -> DeploymentView:
        """One record; with `user_id`, only if that user owns it (None: the pipeline's own
        access, which acts for the recorded owner)."""
        async with self._sessions() as session:
            return DeploymentView.model_validate(await _row(session, deployment_id, user_id))

    async def find(self, user_id: str, ref: str) -> DeploymentView:
        """The user's newest deployment whose id or RunPod endpoint id is `ref`."""
        query = (
            select(DeploymentRecord)
            .where(DeploymentRecord.user_id == user_id)
            .where((DeploymentRecord.id == ref) | (DeploymentRecord.endpoint_id == ref))
            .order_by(DeploymentRecord.created_at.desc())
        )
        async with self._sessions() as session:
            row = (await session.scalars(query)).first()
        if row is None:
            raise DeploymentNotFound(
                f"you have no deployment or endpoint {ref!r}; `kriptik deployments list` shows them"
            )
        return DeploymentView.model_validate(row)

    async def list(self, user_id: str, *, live_only: bool = False) -> list[DeploymentView]:
        query = select(DeploymentRecord).where(DeploymentRecord.user_id == user_id)
        if live_only:
            query = query.where(DeploymentRecord.state.in_(LIVE_STATES))
        async with self._sessions() as session:
            rows = await session.scalars(query.order_by(DeploymentRecord.created_at.desc()))
            return [DeploymentView.model_validate(row) for row in rows]

    async def unfinished(self) -> list[DeploymentView]:
        """Every user's deployments still on their way to ready (for recovery at start)."""
        query = select(DeploymentRecord).where(DeploymentRecord.state.in_(LIVE_STATES - {"ready"}))
        async with self._sessions() as session:
            return [DeploymentView.model_validate(row) for row in await session.scalars(query)]

    async def ready(self) -> list[DeploymentView]:
        """Every user's ready deployments (for the lifetime watch at start)."""
        query = select(DeploymentRecord).where(DeploymentRecord.state == "ready")
        async with self._sessions() as session:
            return [DeploymentView.model_validate(row) for row in await session.scalars(query)]

    async def update(self, deployment_id: str, **fields: Any) -> DeploymentView:
        """Change pipeline-owned fields (see `_UPDATABLE`); stamps `updated_at`."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        async with self._sessions.begin() as session:
            row = await _row(session, deployment_id, None)
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            await session.flush()
            return DeploymentView.model_validate(row)

    async def accrue_cost(
        self, deployment_id: str, usd: float, *, expected: datetime | None, to: datetime
    ) -> bool:
        """Add `usd`, the cost up to `to`, and move `cost_accrued_to` to `to`: only if it
        still is `expected` (the value the caller read). Pollers may overlap; the one that
        loses finds its time already counted, so no second is ever counted twice. Returns
        whether this call counted it (the loser reads the record again)."""
        since = DeploymentRecord.cost_accrued_to
        statement = (
            update(DeploymentRecord)
            .where(DeploymentRecord.id == deployment_id)
            .where(since.is_(None) if expected is None else since == expected)
            .values(cost_usd=DeploymentRecord.cost_usd + usd, cost_accrued_to=to,
                    updated_at=utcnow())
        )  # fmt: skip
        async with self._sessions.begin() as session:
            result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def _live_count(self, session: AsyncSession, user_id: str) -> int:
        query = select(func.count()).where(
            DeploymentRecord.user_id == user_id, DeploymentRecord.state.in_(LIVE_STATES)
        )
        return await session.scalar(query) or 0


def _check_counts(caps: DeploymentCaps, *, workers: int, gpus: int) -> None:
    if workers > caps.max_workers:
        raise DeploymentCapReached(
            f"you asked for {workers} workers and your limit is {caps.max_workers} per "
            f"endpoint: ask for {caps.max_workers} or fewer, or ask an admin to raise it "
            "(`kriptik admin limits set USER --max-workers N`)"
        )
    if gpus > caps.max_gpus:
        raise DeploymentCapReached(
            f"this plan needs {gpus} GPUs per worker and your limit is {caps.max_gpus}: "
            "choose a model or dtype that fits fewer GPUs, or ask an admin to raise it "
            "(`kriptik admin limits set USER --max-gpus N`)"
        )


async def _row(session: AsyncSession, deployment_id: str, user_id: str | None) -> DeploymentRecord:
    query = select(DeploymentRecord).where(DeploymentRecord.id == deployment_id)
    if user_id is not None:
        query = query.where(DeploymentRecord.user_id == user_id)
    row = await session.scalar(query)
    if row is None:
        raise DeploymentNotFound(
            f"no deployment {deployment_id!r}; `kriptik deployments list` shows yours"
        )
    return row
