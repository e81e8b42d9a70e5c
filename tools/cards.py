"""What an approval card shows, and what the approved call then executes: one object.

A money-spending or publishing tool declares, beside itself, a card function: from the
tool's validated (coerced) arguments to a `Card`. The user approves that card; it is
stored under the tool call's id (`tools.approval.Approvals`) and the tool carries out the
plan it holds, unchanged. `facts` names every value the execution is bound to, as the card
shows it, so when the world moves between the card and the execution `changes` can say
exactly what changed.

Plain data, no pydantic-ai: the UI's event types import it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.sizing import GpuPick

__all__ = ["Card", "GpuTerms", "changes", "unknown_card"]


class GpuTerms(BaseModel):
    """The GPU part of an endpoint card, as the plan resolved it (never the raw arguments:
    `pool="auto"` becomes the pool that was chosen)."""

    model_config = ConfigDict(frozen=True)

    pool: str
    gpu_count: int
    workers_min: int
    workers_max: int
    # The VRAM estimate and the band around it (GiB): the pool was chosen on `high_gib`,
    # the upper end. None where the card was priced without sizing the model.
    need_gib: float | None = None
    low_gib: float | None = None
    high_gib: float | None = None
    # The plan's GPU decision (`DeploymentPlan.gpu_pick`): the pool's display name, why it
    # is not the cheapest, the workload sized; the chat redraws its VRAM chart from it.
    pick: GpuPick | None = None
    # What one running copy is called on the target ("worker" on RunPod, "replica" on
    # Hugging Face, "instance" on Cloud Run), and the seconds it keeps billing after its
    # last request before it scales to zero: RunPod's idle timeout, Hugging Face's idle
    # minutes, Cloud Run's up to 15 min (instance-based billing counts idle instances).
    # None: the card's default (a worker, 5 s).
    unit: str = "worker"
    idle_tail_s: float | None = None

    def vram_line(self) -> str | None:
        """The card's VRAM row, e.g. "needs 16.9 GiB (expected 15.4-17.4 GiB; GPU chosen
        for 17.4 GiB) for bf16, 8,192-token context, batch 1"; None when the model was not
        sized."""
        if self.need_gib is None or self.low_gib is None or self.high_gib is None:
            return None
        gpus = "GPU" if self.gpu_count == 1 else f"{self.gpu_count} GPUs"
        workload = f" for {self.pick.workload()}" if self.pick else ""
        return (
            f"needs {self.need_gib:.1f} GiB (expected {self.low_gib:.1f}\u2013"
            f"{self.high_gib:.1f} GiB; {gpus} chosen for {self.high_gib:.1f} GiB){workload}"
        )


class Card(BaseModel):
    """One approval card, and the plan the approved call is bound to.

    Attributes:
        tool: The tool it is for.
        provider: Who the call spends at or publishes to, as the card names it ("RunPod").
        args: The validated, coerced arguments it was made from (what the tool runs with).
        summary: The card's title.
        creates: What the call creates (or deletes), one line each.
        price: What it costs, in words; "unknown: why" when `known` is False.
        usd_per_hour: One running worker's price, where there is one.
        facts: Every value the execution is bound to, by the label the card shows.
        gpu: The resolved GPU terms, for an endpoint.
        known: False when no card could be made (the user is not asked).
    """

    model_config = ConfigDict(frozen=True)

    tool: str
    provider: str = ""
    args: dict[str, Any]
    summary: str
    creates: list[str] = Field(default_factory=list[str])
    price: str
    usd_per_hour: float | None = None
    facts: dict[str, str] = Field(default_factory=dict[str, str])
    gpu: GpuTerms | None = None
    known: bool = True


def unknown_card(tool: str, args: dict[str, Any], summary: str, why: object) -> Card:
    """A card that cannot be shown: the call is refused with `why`, and nobody is asked."""
    return Card(tool=tool, args=args, summary=summary, price=f"unknown: {why}", known=False)


def changes(approved: Card, now: Card) -> list[str]:
    """What differs between the approved card and the card the world gives now, one line
    per fact ("pool: was AMPERE_16, now AMPERE_48"); empty when nothing the execution is
    bound to moved."""
    if not now.known:
        return [f"it can no longer be planned: {now.price.removeprefix('unknown: ')}"]
    found: list[str] = []
    for label in dict.fromkeys([*approved.facts, *now.facts]):
        was, is_now = approved.facts.get(label), now.facts.get(label)
        if was != is_now:
            found.append(f"{label}: was {was or 'not set'}, now {is_now or 'not set'}")
    if not found and type(approved) is not type(now):
        found.append("the plan was only an estimate; it can now be planned in full")
    return found
