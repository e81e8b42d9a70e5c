"""The chat's card for an analysed ComfyUI workflow (`agent.events.WorkflowCard`): what it
loads and from where, its custom nodes, the inputs the endpoint will take, its VRAM and
GPU, and, first, anything the user must still supply."""

from __future__ import annotations

from tools.model_results import WorkflowReport

__all__ = ["workflow_card_markdown"]


def _cell(text: str) -> str:
    # Workflow file names are the user's data: keep them from breaking the table.
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(title: str, items: list[str]) -> list[str]:
    if not items:
        return [f"**{title}:** none"]
    return [f"**{title}**", "", *(f"- {_cell(item)}" for item in items)]


def workflow_card_markdown(report: WorkflowReport) -> str:
    """The card's markdown."""
    lines = [f"### ComfyUI workflow `{_cell(report.name)}`", f"Output: {report.output}"]
    if report.ask_user:
        lines += ["", *_rows("Needed from you before it can be deployed", report.ask_user)]
    nodes = _rows("Custom nodes", report.custom_nodes)
    if report.custom_nodes and report.node_list_as_of:
        nodes.append(f"(packages from the ComfyUI registry, as of {report.node_list_as_of})")
    lines += ["", *_rows("Models", report.models), "", *nodes]
    lines += ["", *_rows("Inputs the endpoint takes", report.inputs)]
    if report.vram_gib is not None:
        gpu = (
            f"; fits on {report.gpu} at ${report.usd_per_hour:.2f}/h per running worker"
            if report.gpu and report.usd_per_hour is not None
            else ""
        )
        lines += ["", f"**GPU memory:** {report.vram_gib:.1f} GiB{gpu}."]
    if report.resident:
        lines.append(f"{report.resident}.")
    return "\n".join(lines)
