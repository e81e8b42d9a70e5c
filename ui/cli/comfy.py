"""`kriptik comfy inspect`: what a ComfyUI workflow needs, without deploying it.

kriptik comfy inspect WORKFLOW.json [--user NAME] [--json]

Prints its model files (each resolved to a Hugging Face repo and file, with its size from
the Hub), its custom nodes (each mapped to its package through the ComfyUI registry), the
inputs an endpoint would take, and its peak VRAM with the GPU that holds it. Anything that
could not be resolved is listed, not guessed. Exit codes: 0 resolved, 3 something to
supply, 2 not a workflow KripTik can take.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui.cli.console import say, warn

if TYPE_CHECKING:
    from tools.comfy import WorkflowAnalysis
    from ui.cli import Subparsers

_GIB = 1 << 30


def register(subparsers: Subparsers) -> None:
    comfy = subparsers.add_parser(
        "comfy", help="inspect a ComfyUI workflow: models, custom nodes, inputs, VRAM",
        description="ComfyUI workflows (API or UI format, as ComfyUI saves them).",
    )  # fmt: skip
    commands = comfy.add_subparsers(dest="comfy_command", metavar="COMMAND", required=True)
    inspect = commands.add_parser(
        "inspect", help="print what a workflow needs and the GPU that holds it",
        description="Resolve a workflow's models and custom nodes, list its inputs and "
        "estimate its VRAM. Nothing is created.",
    )  # fmt: skip
    inspect.add_argument("workflow", type=Path, metavar="WORKFLOW.json")
    inspect.add_argument("--user", help="read gated models with this user's Hugging Face token")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(handler=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    from tools.comfy import WorkflowError
    from tools.comfy.parse import parse_workflow

    path: Path = args.workflow
    try:
        workflow = parse_workflow(path.read_bytes(), name=path.stem)
    except OSError as err:
        warn(f"cannot read {path}: {err.strerror}")
        return 2
    except WorkflowError as err:
        warn(f"{path}: {err}")
        return 2
    analysis = asyncio.run(_analyse(args, workflow))
    summary = _summary(analysis)
    if args.json:
        say(json.dumps(summary, indent=2))
    else:
        _print(summary)
    return 3 if analysis.unresolved else 0


async def _analyse(args: argparse.Namespace, workflow: Any) -> WorkflowAnalysis:
    import httpx

    from tools.clients.huggingface import HuggingFaceClient
    from tools.pipeline.comfy_plan import analyze_with_clients
    from vault import get_settings

    settings = get_settings()
    token = None
    if args.user:
        from ui.cli.size import hf_token

        token = await hf_token(args.user)
    async with httpx.AsyncClient(timeout=settings.http_timeout_s) as http:
        hub = HuggingFaceClient(
            http=http, base_url=settings.huggingface_base_url, token=token,
            timeout_s=settings.http_timeout_s,
        )  # fmt: skip
        return await analyze_with_clients(workflow, hub=hub, http=http, settings=settings)


def _summary(analysis: WorkflowAnalysis) -> dict[str, Any]:
    from tools.comfy.sizing import gpu_for_workflow, resident_note

    out: dict[str, Any] = {
        "workflow": analysis.workflow.name,
        "format": analysis.workflow.source_format,
        "digest": analysis.workflow.digest,
        "output": {"width": analysis.width, "height": analysis.height,
                   "batch": analysis.batch, "frames": analysis.frames},
        "models": [m.model_dump(mode="json") for m in analysis.models],
        "custom_nodes": [p.model_dump(mode="json") for p in analysis.packages],
        "unknown_nodes": list(analysis.unknown_nodes),
        "node_list_as_of": str(analysis.node_map_as_of) if analysis.node_map_as_of else None,
        "inputs": [i.model_dump(mode="json") for i in analysis.inputs],
        "unresolved": list(analysis.unresolved),
        "vram": None,
    }  # fmt: skip
    if not any(m.source is None or m.source.size_bytes is None for m in analysis.models):
        estimate, choice = gpu_for_workflow(analysis)
        best = choice.best
        out["vram"] = {
            "total_gib": round(estimate.total_bytes / _GIB, 2),
            "low_gib": round(estimate.band.low_bytes / _GIB, 2),
            "high_gib": round(estimate.gpu_fit_bytes / _GIB, 2),
            "basis": estimate.basis,
            "offload": choice.offload,
            "resident": resident_note(analysis, choice.offload),
            "gpu": best.label if best else None,
            "usd_per_hour": round(best.usd_per_hour, 4) if best else None,
        }
    return out


def _print(summary: dict[str, Any]) -> None:
    o = summary["output"]
    frames = f" x {o['frames']} frames" if o["frames"] else ""
    say(f"{summary['workflow']} ({summary['format']} format): {o['width']}x{o['height']}"
        f"{frames}, batch {o['batch']}")  # fmt: skip
    say("models:")
    for m in summary["models"]:
        src = m["source"]
        where = (f"{src['repo_id']}/{src['path']} ({(src['size_bytes'] or 0) / _GIB:.2f} GiB)"
                 if src else f"UNRESOLVED: {m['note'] or 'no known source'}")  # fmt: skip
        say(f"  {m['folder']}/{m['filename']}: {where}")
    say("custom nodes:" + ("" if summary["custom_nodes"] or summary["unknown_nodes"] else " none"))
    for p in summary["custom_nodes"]:
        say(f"  {p['package_id']}@{p['version'] or '?'}: {', '.join(p['class_types'])}")
    for t in summary["unknown_nodes"]:
        say(f"  {t}: no known package")
    say("inputs: " + (", ".join(f"{i['name']} ({i['kind']})" for i in summary["inputs"]) or "none"))
    if (v := summary["vram"]) is not None:
        say(f"VRAM: {v['total_gib']:.1f} GiB (expected {v['low_gib']:.1f}-{v['high_gib']:.1f} "
            f"GiB); GPU: {v['gpu']} at ${v['usd_per_hour']:.2f}/h. {v['resident']}.")  # fmt: skip
    for ask in summary["unresolved"]:
        warn(f"needed: {ask}")
