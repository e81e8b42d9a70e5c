"""ComfyUI workflows in the chat: a workflow the user attached or pasted is stored first
(`tools.workflow_import`, called by the front end, so its JSON never travels through the LLM);
the model then reads what it needs (`inspect_workflow`), also with what the user supplies
for what could not be resolved. Deploying it is
`create_runpod_endpoint` with the workflow's id, behind the same approval card as a model.

```
attach / paste      -> import_workflow -> "workflow id W" in the user's message
URL in the message  -> fetch_workflow_url (front end; https, public hosts, 5 MB) -> the same
inspect_workflow(W) -> models (source, size), custom nodes (package, version), inputs,
                        VRAM and the GPU that holds it, and what must still be supplied
inspect_workflow(W, answers={item: value}) -> the same, with the user's answers kept
create_runpod_endpoint(repo_id=deploy_as, pool=auto, workflow_id=W) -> approval -> deploy
```
"""

from __future__ import annotations

import re
from typing import Final

from pydantic_ai import ModelRetry, RunContext

from tools.comfy import UserInput, WorkflowAnalysis, WorkflowError
from tools.comfy.sizing import gpu_for_workflow, resident_note
from tools.deps import Deps
from tools.model_results import WorkflowReport
from tools.pipeline import comfy_plan
from tools.pipeline_cards import pipeline
from tools.sizing import SizingError
from vault.workflows import WorkflowNotFound

__all__ = ["WorkflowReport", "inspect_workflow"]

_GIB: Final = 1 << 30
# "owner/repo/path/in/repo": a model file's source as the user gives it.
_SOURCE: Final = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*/[\w./ +-]+")
_VERSION: Final = re.compile(r"[A-Za-z0-9][\w.+-]{0,63}")


def _input_line(field: UserInput) -> str:
    # A text's default (a prompt) is the workflow author's free text: it stays out of what
    # the model reads, like the rest of the workflow's content.
    if field.kind in ("text", "image"):
        return f"{field.name} ({field.kind})"
    return f"{field.name} ({field.kind}, default {field.default})"


def _report(workflow_id: str, analysis: WorkflowAnalysis) -> WorkflowReport:
    models = [
        f"{m.filename} ({m.folder}): "
        + (
            f"{m.source.repo_id}/{m.source.path}, {(m.source.size_bytes or 0) / _GIB:.2f} GiB"
            if m.source
            else f"UNRESOLVED, {m.note or 'no known source'}"
        )
        for m in analysis.models
    ]
    nodes = [
        f"{p.package_id}@{p.version or '?'}: {', '.join(p.class_types)}" for p in analysis.packages
    ]
    nodes += [f"{t}: no known package" for t in analysis.unknown_nodes]
    inputs = [_input_line(i) for i in analysis.inputs]
    frames = f" x {analysis.frames} frames" if analysis.frames else ""
    w = analysis.workflow
    report = WorkflowReport(
        workflow_id=workflow_id, name=w.name, deploy_as=w.repo_id, models=models,
        custom_nodes=nodes, inputs=inputs,
        output=f"{analysis.width}x{analysis.height}{frames}, batch {analysis.batch}",
        node_list_as_of=str(analysis.node_map_as_of) if analysis.node_map_as_of else None,
        ask_user=list(analysis.unresolved),
    )  # fmt: skip
    if analysis.unresolved:
        return report
    return _sized(report, analysis)


def _sized(report: WorkflowReport, analysis: WorkflowAnalysis) -> WorkflowReport:
    """With every model sized: the VRAM and the cheapest GPU of the packaged price table
    (the approval card prices it again on the user's account)."""
    try:
        estimate, choice = gpu_for_workflow(analysis)
    except (SizingError, WorkflowError):
        return report
    best = choice.best
    return report.model_copy(update={
        "vram_gib": round(estimate.total_bytes / _GIB, 1),
        "gpu": best.label if best else None,
        "usd_per_hour": round(best.usd_per_hour, 2) if best else None,
        "resident": resident_note(analysis, choice.offload),
    })  # fmt: skip


async def _analysis(ctx: RunContext[Deps], workflow_id: str) -> WorkflowAnalysis:
    services = (await pipeline(ctx.deps)).services
    try:
        return await comfy_plan.workflow_analysis(services, ctx.deps.user_id, workflow_id)
    except WorkflowNotFound as err:
        raise ModelRetry(f"{err}; use the workflow id from the user's message") from None


async def inspect_workflow(
    ctx: RunContext[Deps], workflow: str, answers: dict[str, str] | None = None
) -> WorkflowReport:
    """Read a ComfyUI workflow: its models, custom nodes, inputs and VRAM.

    Args:
        workflow: The workflow id from the user's message.
        answers: The user's answers to ask_user: filename -> owner/repo/path, package -> version.
    """
    # One tool for reading and answering: every tool's schema is in every request the model
    # makes, so the workflow's tools are as few and short as they can be. It takes no URL:
    # a workflow URL is fetched by the front end from the user's own message
    # (`fetch_workflow_url`), so the model can never make KripTik fetch an address.
    if answers:
        await _record(ctx, workflow, answers)
    return _report(workflow, await _analysis(ctx, workflow))


async def _record(ctx: RunContext[Deps], workflow_id: str, answers: dict[str, str]) -> None:
    """Keep what the user gave for unresolved items (each checked before any is kept)."""
    analysis = await _analysis(ctx, workflow_id)
    checked: list[tuple[str, str, str]] = []
    for item, value in answers.items():
        kind = _kind_of(analysis, item)
        pattern = _SOURCE if kind == "models" else _VERSION
        if not pattern.fullmatch(value.strip()):
            want = "owner/repo/path/in/repo" if kind == "models" else "a version such as 1.2.3"
            raise ModelRetry(f"{value!r} for {item!r} is not {want}: ask the user for it")
        checked.append((kind, item, value.strip()))
    services = (await pipeline(ctx.deps)).services
    for kind, item, value in checked:
        await services.vault.workflows.supply(ctx.deps.user_id, workflow_id, kind, item, value)


def _kind_of(analysis: WorkflowAnalysis, item: str) -> str:
    if any(m.filename == item for m in analysis.models):
        return "models"
    if any(p.package_id == item for p in analysis.packages):
        return "versions"
    raise ModelRetry(f"{item!r} is neither a model file nor a package of this workflow")
