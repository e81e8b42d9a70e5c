"""Chat turns in the terminal, for `kriptik chat` and `kriptik demo --once`: the transcript
as it happens, then a verdict that is "Done." only when nothing failed (`play`).

A turn can end "done" while something it started did not work: a tool failed (and no
later call of it succeeded), or a deployment it launched ended failed. `Verdict` collects
both, so the commands exit non-zero and name the failed stage instead of printing "Done."
after a failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from ui.cli.console import say, warn

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agent import TurnContext, UIEvent
    from agent.events import Final as FinalEvent
    from vault.deployments import DeploymentStore, DeploymentView

# A deployment still in one of these once its wait is over has not reached its end.
_FINAL_OK: Final = "ready"
_WAIT_S: Final = 600.0
# The URLs a person uses, of those a deployment records (the rest are RunPod's job routes).
_SHOWN_URLS: Final = {"openai": "OpenAI-compatible API", "runSync": "runsync",
                      "repo": "GitHub repo", "webapp": "web app"}  # fmt: skip


@dataclass
class Verdict:
    """What went wrong in a run of turns; empty when everything reached its end."""

    problems: list[str] = field(default_factory=list[str])
    endpoints: list[str] = field(default_factory=list[str])

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> int:
        """Print the verdict; the exit status (0 only when nothing failed)."""
        for endpoint in self.endpoints:
            say(f"endpoint: {endpoint}")
        if self.ok:
            say("Done.")
            return 0
        for problem in self.problems:
            warn(f"FAILED: {problem}")
        return 1


class Transcript:
    """Prints a turn's events; reply text is gathered and printed whole."""

    def __init__(self, verdict: Verdict, *, key_source: dict[str, str] | None = None) -> None:
        self.verdict = verdict
        self._pending: list[str] = []
        self._key_source = key_source or {}
        # Failed tool calls of this turn, by tool: a later success of the same tool (the
        # model fixed its call, or a key was entered) means the turn recovered from it.
        self._failed: dict[str, str] = {}

    def show(self, event: UIEvent) -> None:
        from agent import events as ev

        if isinstance(event, ev.TextDelta):
            self._pending.append(event.text)
            return
        self.flush()
        match event:
            case ev.ToolStarted():
                say(f"  → {event.tool} {json.dumps(event.args)}")
            case ev.ToolFinished():
                mark = {"success": "✓", "retried": "↻", "denied": "⊘"}.get(event.outcome, "✗")
                say(f"  {mark} {event.tool} [{event.outcome}]: {event.summary}")
                if event.outcome in ("failed", "interrupted"):
                    self._failed[event.tool] = f"{event.tool}: {event.summary}"
                elif event.outcome == "success":
                    self._failed.pop(event.tool, None)
            case ev.Question():
                source = self._key_source.get(event.provider, "cancelled: no key to give")
                say(f"  🔑 {event.title} key requested ({event.reason}); {source}")
            case ev.Approval():
                vram = event.gpu.vram_line() if event.gpu else None
                say(f"  ⚠ approval: {event.summary}; price: {event.price}"
                    + (f"; VRAM: {vram}" if vram else ""))  # fmt: skip
            case ev.VramEstimate() | ev.GpuChoice() | ev.DeploymentStarted():
                pass  # the tool's own line shows its result; `settle_deployments` waits
            case ev.AppLive():
                say(event.summary)
            case ev.WorkflowCard():
                r = event.report
                needed = f"; still needed: {'; '.join(r.ask_user)}" if r.ask_user else ""
                fields = ", ".join(i.split(" ", 1)[0] for i in r.inputs) or "none"
                nodes = f"{len(r.custom_nodes)} custom node package(s)"
                say(f"  ▣ workflow {r.name}: {len(r.models)} model file(s), {nodes}, "
                    f"inputs: {fields}{needed}")  # fmt: skip
            case ev.Progress():
                say(f"  … {event.text}")
            case ev.Notice():
                (warn if event.level != "info" else say)(f"  ! {event.text}")
                if event.level == "error":
                    self.verdict.problems.append(event.text)
            case ev.Final():
                self._final(event)
            case _:
                pass

    def _final(self, event: FinalEvent) -> None:
        u = event.usage
        # A request with no price is unknown, not $0: say so, beside any priced part.
        cost = f"${u.cost_usd:.6f}" + ("" if u.cost_known else " plus unknown")
        cost = cost if u.cost_known or u.cost_usd else "cost unknown"
        say(f"  [turn {event.status}: {u.requests} model requests, {u.input_tokens} in "
            f"({u.cached_tokens} cached) / {u.output_tokens} out tokens, {cost}]")  # fmt: skip
        self.verdict.problems.extend(self._failed.values())
        self._failed.clear()
        if event.status != "done":
            self.verdict.problems.append(f"the turn ended {event.status}")

    def flush(self) -> None:
        if self._pending:
            say(f"kriptik> {''.join(self._pending).strip()}")
            self._pending.clear()


def judge_deployment(view: DeploymentView, verdict: Verdict) -> None:
    """Add a settled deployment to the verdict: its endpoint, or the stage it failed at."""
    if view.state == _FINAL_OK:
        verdict.endpoints.append(f"{view.endpoint_id} ({view.repo_id}, ready)")
        for name, label in _SHOWN_URLS.items():
            if url := view.urls.get(name):
                say(f"{label}: {url}")
        return
    stage = view.stage or "unknown stage"
    verdict.problems.append(
        f"deployment {view.id} of {view.repo_id} ended {view.state} at stage {stage!r}"
        + (f": {view.message}" if view.message else "")
    )


async def settle_deployments(
    store: DeploymentStore, user_id: str, before: set[str], verdict: Verdict,
    *, wait_s: float = _WAIT_S,
) -> None:  # fmt: skip
    """Wait for every deployment the turns started (ids not in `before`) to end, and
    judge each. Needs the pipeline running in this process."""
    import asyncio

    from tools.pipeline import api

    for view in await store.list(user_id):
        if view.id in before:
            continue
        try:
            await asyncio.wait_for(api.wait_deployment(view.id), wait_s)
        except TimeoutError:
            verdict.problems.append(f"deployment {view.id} did not finish in {wait_s:g} s")
            continue
        judge_deployment(await store.get(view.id, user_id=user_id), verdict)


async def play(
    ctx: TurnContext, store: DeploymentStore, texts: Iterable[str], *, key_source: dict[str, str]
) -> int:
    """Play `texts` as the user's turns in `ctx`, printing the transcript as it happens;
    then wait for the deployments they started, and report the verdict (the exit code)."""
    from agent import run_turn

    before = {view.id for view in await store.list(ctx.user_id)}
    verdict = Verdict()
    transcript = Transcript(verdict, key_source=key_source)
    for text in texts:
        say(f"you> {text}")
        async for event in run_turn(ctx, text):
            transcript.show(event)
        transcript.flush()
    await settle_deployments(store, ctx.user_id, before, verdict)
    return verdict.report()
