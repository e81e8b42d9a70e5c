"""The typed events a chat turn yields to the UI. The UI renders them; it never sees
pydantic-ai's own event types.

```
TextDelta      a piece of the assistant's reply, in order
ToolStarted    the model called a tool (arguments redacted)
ToolFinished   a tool call ended: success | failed | denied | retried | interrupted
VramEstimate   a model's VRAM was estimated: the repo and the typed summary (the chart)
GpuChoice      a GPU was chosen for a model: the typed plan (the chart marks its pool)
DeploymentStarted  a deployment exists and its progress is about to stream (follow it)
AppLive        a web app was deployed: its closing summary, shown as it is (the model
               does not repeat it, so no price or URL is ever retyped)
WorkflowCard   a ComfyUI workflow was analysed: its models, nodes, inputs and VRAM (a card)
Question       a key is being asked for (the UI's `Interaction.ask_secret` answers it)
Approval       a side effect awaits approval (the UI's `Interaction.ask_approval` answers it)
Progress       a line of progress from a running tool
Notice         something the user must know or act on (no key, a limit reached)
Final          the turn ended: the whole reply, its token and $ usage, and why it ended
```

`Question` and `Approval` are yielded for display at the moment they are asked; the
answer always comes through the injected `Interaction`, never through the stream.

`VramEstimate` and `GpuChoice` follow the `ToolFinished` of the call whose typed result
they carry; `DeploymentStarted` comes from the deploying tool itself, the moment the
deployment is recorded. The UI draws from these, never from a tool's name or its text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tools.cards import GpuTerms
from tools.model_results import GpuPlan, VramSummary, WorkflowReport

__all__ = [
    "AppLive",
    "Approval",
    "DeploymentStarted",
    "Final",
    "GpuChoice",
    "Notice",
    "Progress",
    "Question",
    "TextDelta",
    "ToolFinished",
    "ToolOutcome",
    "ToolStarted",
    "TurnStatus",
    "TurnUsage",
    "UIEvent",
    "VramEstimate",
    "WorkflowCard",
]

ToolOutcome = Literal["success", "failed", "denied", "retried", "interrupted"]
TurnStatus = Literal["done", "usage_limit", "cost_cap", "no_model", "refused", "failed"]


class TextDelta(BaseModel):
    kind: Literal["text"] = "text"
    text: str


class ToolStarted(BaseModel):
    kind: Literal["tool_started"] = "tool_started"
    tool_call_id: str
    tool: str
    args: dict[str, Any]


class ToolFinished(BaseModel):
    kind: Literal["tool_finished"] = "tool_finished"
    tool_call_id: str
    tool: str
    outcome: ToolOutcome
    summary: str


class VramEstimate(BaseModel):
    """A model's peak GPU memory, estimated: `repo_id` as the call named it."""

    kind: Literal["vram_estimate"] = "vram_estimate"
    tool_call_id: str
    repo_id: str
    summary: VramSummary


class GpuChoice(BaseModel):
    """The GPU chosen for a model: the pool (None when nothing fits), count and price."""

    kind: Literal["gpu_choice"] = "gpu_choice"
    tool_call_id: str
    plan: GpuPlan


class DeploymentStarted(BaseModel):
    """A deployment was recorded and its workflow started; progress follows."""

    kind: Literal["deployment_started"] = "deployment_started"
    tool_call_id: str | None
    deployment_id: str


class AppLive(BaseModel):
    """A web app was deployed: the closing summary (every URL, the running price, how to
    stop billing), rendered as it is. The model reads only whether its check passed."""

    kind: Literal["app_live"] = "app_live"
    tool_call_id: str
    summary: str  # markdown


class WorkflowCard(BaseModel):
    """A ComfyUI workflow's analysis, shown as a card: what it loads and needs, its inputs,
    its VRAM, and what the user must still supply."""

    kind: Literal["workflow_card"] = "workflow_card"
    tool_call_id: str
    report: WorkflowReport


class Question(BaseModel):
    """A request for one provider key, with the onboarding content to show beside the
    password field. `problem` says why an earlier attempt was not stored."""

    kind: Literal["question"] = "question"
    tool_call_id: str | None
    provider: str
    title: str
    env_name: str
    reason: str
    signup_url: str
    keys_url: str
    scopes: list[str]
    instructions: str
    attempt: int = 1
    problem: str | None = None


class Approval(BaseModel):
    """A tool call that spends money or publishes: what it creates, and its price (computed
    by KripTik from the validated arguments, not quoted by the model). Approved, exactly
    this card runs.

    Attributes:
        args: The call's arguments as the tool receives them (validated and coerced).
        facts: Every value the execution is bound to (revision, pool, visibility, ...).
        gpu: For an endpoint: the pool, GPU count and workers the plan resolved.
        changed: Set when an approved plan changed before it ran: what changed, one line
            each. This card replaces the one approved.
    """

    kind: Literal["approval"] = "approval"
    tool_call_id: str
    tool: str
    provider: str = ""
    summary: str
    creates: list[str]
    price: str
    usd_per_hour: float | None
    args: dict[str, Any]
    facts: dict[str, str] = Field(default_factory=dict[str, str])
    gpu: GpuTerms | None = None
    changed: list[str] = Field(default_factory=list[str])


class Progress(BaseModel):
    kind: Literal["progress"] = "progress"
    tool_call_id: str | None
    text: str
    fraction: float | None = None


class Notice(BaseModel):
    """Something the user must know or act on (e.g. no LLM key yet, a limit reached)."""

    kind: Literal["notice"] = "notice"
    text: str
    level: Literal["info", "warning", "error"] = "info"


class TurnUsage(BaseModel):
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    # Of input_tokens: read from the provider's prompt cache (billed at its cache-read
    # price), and written to it.
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    today_usd: float = 0.0
    daily_cap_usd: float | None = None


class Final(BaseModel):
    kind: Literal["final"] = "final"
    text: str
    usage: TurnUsage = Field(default_factory=TurnUsage)
    status: TurnStatus = "done"


UIEvent = Annotated[
    TextDelta
    | ToolStarted
    | ToolFinished
    | VramEstimate
    | GpuChoice
    | DeploymentStarted
    | AppLive
    | WorkflowCard
    | Question
    | Approval
    | Progress
    | Notice
    | Final,
    Field(discriminator="kind"),
]
