"""Reminders for resources that are still up: the chat shows them when a conversation
starts, so no endpoint keeps billing unnoticed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tools.clients.errors import ProviderError
from tools.pipeline import cost
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
    """The user's deployments that were not torn down, with their idle and current cost,
    and what they have cost so far (accrued up to now, beside RunPod's bill)."""
    reminders: list[Reminder] = []
    for view in await cost.refresh(services, user_id):
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
            rates = f"${running:.2f}/h right now, ${idle:.2f}/h when idle"
        else:
            rates = "nothing while idle (it scales to zero), but it still exists"
        text = (
            f"{view.repo_id} ({view.state}, endpoint {view.endpoint_id}): {rates}. "
            f"Spent so far: {cost.spent_text(view)}. "
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
