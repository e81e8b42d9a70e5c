"""Heartbeats and takeovers: any instance finishes the deployments of one that died for good.

DBOS recovers, at launch, only the pending workflows of its own executor id, so the
deployments of an instance that never comes back would wait forever. Each instance
(`InstanceWatch`, started by `api.launch` on PostgreSQL) writes a heartbeat every
`heartbeat_interval_s`; on each beat it also claims the instances silent for
`instance_timeout_s` and recovers their pending workflows with DBOS's recovery for those
executor ids.

Exactly once, twice over:
- the claim (`vault.instances.InstanceStore.claim_silent`) is one atomic UPDATE ... WHERE
  claimed_by IS NULL ... RETURNING: of several survivors, one gets each dead instance;
- DBOS's recovery itself (3.4) only moves a workflow from PENDING *under the dead executor
  id* to ENQUEUED on its internal queue; one executor then dequeues it atomically and
  writes its own executor id on it. A second recovery for the dead id (a claimer whose
  claim was retaken, or the dead instance itself coming back and recovering its own id at
  launch) matches nothing: the workflow is no longer PENDING under that id.

An instance that was only slow (silent past the timeout, yet alive) finds its row claimed
at its next beat: it says so loudly and registers a fresh epoch. Its in-flight workflows
may then run twice, which is why the timeout is many beats long (`vault.settings`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from dbos import DBOS

from vault.instances import InstanceStore
from vault.models import utcnow

__all__ = ["InstanceWatch", "recover_executor"]

_log = logging.getLogger(__name__)

Recover = Callable[[str], Awaitable[int]]


async def recover_executor(executor_id: str) -> int:
    """Re-queue the pending workflows of `executor_id` (this pipeline version's) through
    DBOS's recovery; any live executor then runs each once. Returns how many."""
    # DBOS 3.4 offers recovery for other executors only as this classmethod (its admin
    # server's recovery endpoint calls it too); it reads and writes the system database
    # synchronously, so it runs in a thread.
    recover = DBOS._recover_pending_workflows  # pyright: ignore[reportPrivateUsage]
    handles = await asyncio.to_thread(recover, [executor_id])
    return len(handles)


class InstanceWatch:
    """This instance's heartbeat, and its takeovers of silent instances.

    Args:
        store: The `instances` table.
        instance_id: This instance's id (its DBOS executor id).
        interval_s: Between two beats (and two looks for silent instances).
        timeout_s: The silence after which an instance is presumed dead.
        clock: Now, timezone-aware (tests may move it).
        recover: Re-queues a dead executor's workflows (DBOS's recovery by default).
    """

    def __init__(
        self,
        store: InstanceStore,
        *,
        instance_id: str,
        interval_s: float,
        timeout_s: float,
        clock: Callable[[], datetime] = utcnow,
        recover: Recover = recover_executor,
    ) -> None:
        self.store, self.instance_id = store, instance_id
        self.interval_s, self.timeout = interval_s, timedelta(seconds=timeout_s)
        self._clock, self._recover = clock, recover
        self._task: asyncio.Task[None] | None = None

    async def register(self) -> None:
        """Start this instance's epoch: seen now, claimed by nobody."""
        await self.store.register(self.instance_id, self._clock())

    def start(self) -> None:
        """Beat, and look for silent instances, now and every `interval_s` until `stop`."""
        self._task = asyncio.create_task(self._run(), name=f"heartbeat {self.instance_id}")

    async def stop(self) -> None:
        """Stop beating (peers take over what is left pending once the timeout passes), and
        close the store's own connection, if it has one."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.close()

    async def beat(self) -> None:
        """Record that this instance is alive; re-register if peers presumed it dead."""
        if await self.store.beat(self.instance_id, self._clock()):
            return
        _log.error(
            "instance %s was presumed dead by its peers (silent for over %ss) and its "
            "deployments were handed to another instance; registering again. If this "
            "instance was alive, raise KRIPTIK_INSTANCE_TIMEOUT_S.",
            self.instance_id, self.timeout.total_seconds(),
        )  # fmt: skip
        await self.register()

    async def take_over(self) -> list[str]:
        """Claim every instance silent past the timeout and re-queue its pending workflows.
        Returns the ids of the instances taken over."""
        now = self._clock()
        claimed = await self.store.claim_silent(
            self.instance_id, silent_since=now - self.timeout, now=now
        )
        for dead in claimed:
            count = await self._recover(dead)
            await self.store.recovered(dead, self.instance_id, self._clock())
            _log.warning(
                "instance %s took over instance %s (silent for over %ss): %d pending "
                "workflow(s) re-queued",
                self.instance_id, dead, self.timeout.total_seconds(), count,
            )  # fmt: skip
        return claimed

    async def _run(self) -> None:
        while True:
            try:
                await self.beat()
                await self.take_over()
            except Exception:  # the database may be away for a while: try again next beat
                _log.warning("heartbeat of instance %s failed", self.instance_id, exc_info=True)
            await asyncio.sleep(self.interval_s)
