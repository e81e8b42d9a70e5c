"""ComfyUI workflows brought to the chat: a `.json` file attached to a message, a workflow
pasted as the message itself, or an https link to a `.json` in the message. Each is
imported before the agent runs (`tools.workflow_tools`): the model reads only a one-line
marker with the workflow's id, never the JSON (which can be large, and is the user's data,
not instructions). A link is fetched here, from the user's own words, never by a tool: the
model cannot make KripTik fetch an address. A workflow that cannot be taken is answered
here, with why and what to do, and the agent is not run: nothing is built.
"""

from __future__ import annotations

# Chainlit's elements are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tools.comfy import MAX_WORKFLOW_BYTES, WorkflowError
from tools.workflow_import import fetch_workflow_url, import_workflow, workflow_marker

if TYPE_CHECKING:
    from ui.root import Root

__all__ = ["Prepared", "prepare_message"]

# A pasted message is taken for a workflow when it is a JSON object that names nodes.
_WORKFLOW_HINTS: Final = ('"class_type"', '"nodes"', '"links"')
# A link to a workflow: any URL in the message whose path ends in .json (an http one too,
# so that it is refused with the reason rather than passed to the model).
_JSON_LINK: Final = re.compile(r"\bhttps?://[^\s<>\"')\]]+?\.json\b(?:\?[^\s<>\"')\]]*)?", re.I)


@dataclass(frozen=True)
class Prepared:
    """The text for the agent, or a refusal to show instead of running it."""

    text: str
    refusal: str | None = None


def _looks_like_workflow(text: str) -> bool:
    body = text.strip()
    return body.startswith("{") and any(hint in body for hint in _WORKFLOW_HINTS)


def _read(element: Any) -> tuple[bytes, str] | None:
    """A JSON attachment's bytes and file stem (None for other elements)."""
    name = str(getattr(element, "name", "") or "workflow.json")
    path = getattr(element, "path", None)
    mime = str(getattr(element, "mime", "") or "")
    if not (name.lower().endswith(".json") or "json" in mime) or not path:
        return None
    size = Path(path).stat().st_size
    if size > MAX_WORKFLOW_BYTES:  # refused before it is read into memory
        raise WorkflowError(
            f"{name} is {size / 1e6:.1f} MB; a workflow is at most "
            f"{MAX_WORKFLOW_BYTES / 1e6:.0f} MB. Save it from ComfyUI without embedded images"
        )
    return Path(path).read_bytes(), Path(name).stem


async def prepare_message(root: Root, user_id: str, content: str, elements: list[Any]) -> Prepared:
    """Import the message's workflows; the text the agent reads, or a refusal."""
    markers: list[str] = []
    text = content
    try:
        for element in elements:
            if (found := _read(element)) is not None:
                stored, nodes = await import_workflow(root.vault, user_id, found[0], name=found[1])
                markers.append(workflow_marker(stored, nodes))
        if not markers and _looks_like_workflow(content):
            stored, nodes = await import_workflow(root.vault, user_id, content, name="pasted")
            text, markers = "Deploy this ComfyUI workflow.", [workflow_marker(stored, nodes)]
        for url in [] if markers else _JSON_LINK.findall(content)[:1]:
            stored, nodes = await fetch_workflow_url(
                root.vault, root.http, root.settings, user_id, url
            )
            markers.append(workflow_marker(stored, nodes))
    except WorkflowError as err:
        return Prepared(text=content, refusal=f"I could not take that workflow: {err}.")
    return Prepared(text="\n".join([text.strip(), *markers]).strip())
