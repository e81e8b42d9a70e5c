"""Instance heartbeats and takeovers (migration 0010): one row per instance sharing the
database, when it was last seen, and which surviving instance claimed it once it fell
silent.

The claim is the exactly-once point of a takeover. `claim_silent` is one UPDATE ... WHERE
claimed_by IS NULL ... RETURNING: of two survivors that try at once, PostgreSQL lets the
second wait on the first's row lock, re-reads the row, finds it claimed and returns
nothing. A claimer that died before it finished the takeover (`recovered_at` still empty)
loses its claim once the claim itself is older than the timeout.

An instance that comes back (the same id) registers a fresh row: a new epoch, unclaimed.

An instance's own heartbeat runs on a connection of its own (`own_connection`): under load
every connection of the app's pool can be waiting (on the audit chain's lock), and a
heartbeat that waited with them fell silent for as long, so that peers could presume a
live, busy instance dead.

Times come from the caller's clock: the instances' clocks must agree to well within the
silence timeout (NTP keeps them within milliseconds; the timeout is tens of seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Mapped, mapped_column

from vault.db import normalize_url, session_factory
from vault.models import Base

__all__ = ["InstanceRecord", "InstanceStore", "InstanceView"]


class InstanceRecord(Base):
    __tablename__ = "instances"

    instance_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime]
    last_seen: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    recovered_at: Mapped[datetime | None] = mapped_column(default=None)


@dataclass(frozen=True)
class InstanceView:
    """One instance as its row says (for operators and tests)."""

    instance_id: str
    started_at: datetime
    last_seen: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    recovered_at: datetime | None


def _view(r: InstanceRecord) -> InstanceView:
    return InstanceView(
        instance_id=r.instance_id, started_at=r.started_at, last_seen=r.last_seen,
        claimed_by=r.claimed_by, claimed_at=r.claimed_at, recovered_at=r.recovered_at,
    )  # fmt: skip


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class InstanceStore:
    """The `instances` table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine | None = None  # owned, with `own_connection`

    @classmethod
    def own_connection(cls, database_url: str) -> InstanceStore:
        """A store on one connection of its own (re-opened if the database drops it), for
        an instance's heartbeat; `close` closes it."""
        engine = create_async_engine(
            normalize_url(database_url), pool_size=1, max_overflow=0, pool_pre_ping=True
        )
        store = cls(session_factory(engine))
        store._engine = engine
        return store

    async def close(self) -> None:
        """Close the connection this store owns (nothing for a store on shared sessions)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()

    async def register(self, instance_id: str, now: datetime) -> None:
        """Start a fresh epoch for `instance_id`: seen now, claimed by nobody."""
        fresh = {"started_at": now, "last_seen": now, "claimed_by": None, "claimed_at": None,
                 "recovered_at": None}  # fmt: skip
        async with self._sessions() as session, session.begin():
            done = await session.execute(
                update(InstanceRecord)
                .where(InstanceRecord.instance_id == instance_id)
                .values(**fresh)
            )
            if _rowcount(done):
                return
        try:
            async with self._sessions() as session, session.begin():
                session.add(InstanceRecord(instance_id=instance_id, **fresh))
        except IntegrityError:  # registered in between (a twin with the same id)
            await self.register(instance_id, now)

    async def beat(self, instance_id: str, now: datetime) -> bool:
        """Record that `instance_id` is alive. False when its row is claimed or gone: the
        others presumed it dead (it was silent too long), so it must register again."""
        async with self._sessions() as session, session.begin():
            done = await session.execute(
                update(InstanceRecord)
                .where(InstanceRecord.instance_id == instance_id)
                .where(InstanceRecord.claimed_by.is_(None))
                .values(last_seen=now)
            )
        return _rowcount(done) == 1

    async def claim_silent(
        self, claimer: str, *, silent_since: datetime, now: datetime
    ) -> list[str]:
        """Claim every other instance not seen since `silent_since` and not claimed yet (or
        claimed before `silent_since` by a claimer that never finished): atomically, so of
        several survivors exactly one gets each. Returns the ids claimed."""
        unclaimed = InstanceRecord.claimed_by.is_(None)
        abandoned = and_(
            InstanceRecord.recovered_at.is_(None), InstanceRecord.claimed_at < silent_since
        )
        statement = (
            update(InstanceRecord)
            .where(InstanceRecord.instance_id != claimer)
            .where(InstanceRecord.last_seen < silent_since)
            .where(or_(unclaimed, abandoned))
            .values(claimed_by=claimer, claimed_at=now)
            .returning(InstanceRecord.instance_id)
        )
        async with self._sessions() as session, session.begin():
            claimed = (await session.execute(statement)).scalars().all()
        return sorted(claimed)

    async def recovered(self, instance_id: str, claimer: str, now: datetime) -> None:
        """The takeover of `instance_id` by `claimer` is done (its workflows re-queued)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(InstanceRecord)
                .where(InstanceRecord.instance_id == instance_id)
                .where(InstanceRecord.claimed_by == claimer)
                .values(recovered_at=now)
            )

    async def list(self) -> list[InstanceView]:
        """Every instance that ever registered, by id."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(select(InstanceRecord).order_by(InstanceRecord.instance_id))
            ).all()
        return [_view(r) for r in rows]
