"""Reminders for resources that are still up: the chat shows them when a conversation
starts, so no endpoint keeps billing unnoticed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tools.clients.errors import ProviderError
from tools.pipeline.services import PipelineServices

__all__ = ["Reminder", "running_reminders"]


class Reminder(BaseModel):
    """One deployment that still has resources, and what it costs while idle."""

    model_config = ConfigDict(frozen=True)

    deployment_id: str
    name: str
    idle_usd_per_hour: float
    running_usd_per_hour: float
    text: str


async def running_reminders(services: PipelineServices, user_id: str) -> list[Reminder]:
    """The user's deployments that were not torn down, with their idle and current cost."""
    reminders: list[Reminder] = []
    for view in await services.deployments.list(user_id):
        if view.state in {"torn_down", "planned"} or view.endpoint_id is None:
            continue
        rate = view.usd_per_second * 3600
        idle = view.workers_min * rate
        running = 0.0
        try:
            workers = await (await services.runpod(user_id)).workers(view.endpoint_id)
            running = (workers.summary.running + workers.summary.idle) * rate
        except ProviderError:
            pass  # the reminder still stands on what the record says
        if idle or running:
            cost = f"${running:.2f}/h right now, ${idle:.2f}/h when idle"
        else:
            cost = "nothing while idle (it scales to zero), but it still exists"
        text = (
            f"{view.repo_id} ({view.state}, endpoint {view.endpoint_id}): {cost}. "
            f"Spent so far about ${view.cost_usd:.2f}. "
            f"Tear it down with `kriptik deployments teardown {view.id}` when done."
        )
        reminders.append(
            Reminder(
                deployment_id=view.id,
                name=view.name,
                idle_usd_per_hour=idle,
                running_usd_per_hour=running,
                text=text,
            )
        )
    return reminders
