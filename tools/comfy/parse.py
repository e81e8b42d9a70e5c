"""Import a ComfyUI workflow: either of ComfyUI's formats in, a checked API-format
`Workflow` out.

- The **API format** (ComfyUI's "Export (API)", the body of `/prompt`) is a dict of node
  id -> `{"class_type", "inputs", "_meta": {"title"}}`; it is kept as it is and checked.
- The **UI format** (the editor's "Save": `nodes` and `links`) is converted as ComfyUI's
  frontend converts it when it queues a prompt (`tools.comfy.ui_format`).

Either way every link must point at a node of the workflow and the graph must have no
cycle, as ComfyUI's executor needs. Every refusal is a `WorkflowError` whose message says
what was expected and what the user can do. Fetching a workflow from a URL lives in the
clients; `check_workflow_url` only says whether a URL may be fetched.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, cast
from urllib.parse import urlsplit

from tools.comfy.model import MAX_WORKFLOW_BYTES, ApiNode, Workflow, WorkflowError
from tools.comfy.ui_format import ui_to_api

__all__ = [
    "canonical_json",
    "check_workflow_url",
    "is_link",
    "parse_workflow",
    "workflow_digest",
    "workflow_slug",
]

_NEITHER: Final = (
    "expected ComfyUI's API format (node id -> {class_type, inputs}) or its UI format "
    "(nodes and links), as saved by ComfyUI's Save or Export (API)"
)
_SLUG_MAX: Final = 40


def is_link(value: object) -> bool:
    """Whether an API-format input is a link `[source_node_id, output_index]` (ComfyUI's
    own test: a list of a string and an integer)."""
    if not isinstance(value, list) or len(cast("list[object]", value)) != 2:
        return False
    source, slot = cast("list[object]", value)
    return isinstance(source, str) and isinstance(slot, int) and not isinstance(slot, bool)


def canonical_json(api: Mapping[str, Any]) -> str:
    """The API JSON as the digest reads it and the vault keeps it: sorted keys, compact."""
    return json.dumps(api, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def workflow_digest(api: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical API JSON (`canonical_json`, UTF-8)."""
    canonical = canonical_json(api)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def workflow_slug(name: str) -> str:
    """A short name of [a-z0-9-] from a file name or title (`.json` and folders dropped)."""
    stem = re.sub(r"\.json$", "", name.strip().rsplit("/", 1)[-1], flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return slug[:_SLUG_MAX].strip("-") or "workflow"


def check_workflow_url(url: str) -> str:
    """The URL, if KripTik may fetch a workflow from it: https, with a host, no password.

    Raises:
        WorkflowError: Any other URL.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    shown = text if len(text) <= 100 else text[:97] + "..."
    if parts is None or parts.scheme.lower() != "https" or not host:
        raise WorkflowError(
            f"KripTik fetches workflows only from https URLs with a host, not {shown!r}. "
            "Use the https link to the raw .json file, or download it and attach the file "
            "instead."
        )
    if parts.username is not None or parts.password is not None:
        raise WorkflowError(
            "The workflow URL carries a user name or password. Use a link without them, or "
            "download the workflow and attach the file instead."
        )
    return text


def _load_json(data: bytes | str) -> object:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_WORKFLOW_BYTES:
        raise WorkflowError(
            f"The workflow is {len(raw) / 1_000_000:.1f} MB; KripTik takes workflows of up "
            f"to {MAX_WORKFLOW_BYTES // (1024 * 1024)} MB (real ones are 10-200 KB). Remove "
            "embedded images or other data from it, then attach it again."
        )
    try:
        text = raw.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise WorkflowError(
            f"The workflow is not UTF-8 text (bad byte at offset {error.start}). Attach the "
            ".json file exactly as ComfyUI saved it."
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise WorkflowError(
            f"The workflow is not valid JSON: {error.msg} at line {error.lineno}, column "
            f"{error.colno}. Attach the .json file exactly as ComfyUI saved it."
        ) from None
    except RecursionError:
        raise WorkflowError(
            f"The workflow's JSON is nested too deeply to be a workflow; {_NEITHER}."
        ) from None


def _api_nodes(doc: Mapping[str, Any]) -> dict[str, ApiNode]:
    if not doc:
        raise WorkflowError(
            "The workflow is empty: it has no nodes. Build the workflow in ComfyUI, then "
            "save it with Export (API) and attach that file."
        )
    nodes: dict[str, ApiNode] = {}
    for node_id, raw in doc.items():
        body: Mapping[str, Any] = cast("Mapping[str, Any]", raw) if isinstance(raw, dict) else {}
        class_type = body.get("class_type")
        if not isinstance(class_type, str) or not 0 < len(class_type) <= 200:
            raise WorkflowError(
                f"Node {node_id} has no class_type; every node of an API-format workflow "
                "is {class_type, inputs}. Save the workflow again with Export (API)."
            )
        inputs = body.get("inputs", {})
        if not isinstance(inputs, dict):
            raise WorkflowError(
                f"The inputs of node {node_id} ({class_type}) are not an object of input "
                "name -> value. Save the workflow again with Export (API)."
            )
        meta = body.get("_meta")
        title = cast("Mapping[str, Any]", meta).get("title") if isinstance(meta, dict) else None
        nodes[node_id] = ApiNode(
            class_type=class_type,
            inputs=cast("dict[str, Any]", inputs),
            title=title if isinstance(title, str) and title else None,
        )
    return nodes


def _check_links(nodes: Mapping[str, ApiNode]) -> None:
    for node_id, node in nodes.items():
        for name, value in node.inputs.items():
            if is_link(value) and cast("list[Any]", value)[0] not in nodes:
                source, slot = cast("list[Any]", value)
                raise WorkflowError(
                    f"Input '{name}' of node {node_id} ({node.class_type}) is linked to node "
                    f"{source!r} (output {slot}), which is not in the workflow. Reconnect it "
                    "in ComfyUI and export the workflow again."
                )


def _sources(node: ApiNode) -> list[str]:
    return [cast("list[str]", v)[0] for v in node.inputs.values() if is_link(v)]


def _find_cycle(nodes: Mapping[str, ApiNode]) -> list[str] | None:
    """The node ids of one cycle (each takes an input from the next), or None.

    An iterative depth-first search along links, so a long chain cannot hit the
    recursion limit."""
    done: set[str] = set()
    for start in nodes:
        if start in done:
            continue
        path, on_path = [start], {start}
        pending = [iter(_sources(nodes[start]))]
        while pending:
            nxt = next(pending[-1], None)
            if nxt is None:
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                pending.pop()
            elif nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                pending.append(iter(_sources(nodes[nxt])))
    return None


def _check_acyclic(nodes: Mapping[str, ApiNode]) -> None:
    cycle = _find_cycle(nodes)
    if cycle is not None:
        chain = " <- ".join(f"{i} ({nodes[i].class_type})" for i in cycle)
        raise WorkflowError(
            f"The workflow has a cycle: {chain} (each node takes an input from the next). "
            "ComfyUI runs only graphs without loops; remove one of these links in ComfyUI "
            "and save again."
        )


def _format_of(doc: Mapping[str, Any]) -> Literal["api", "ui"] | None:
    if "nodes" in doc:
        return "ui" if isinstance(doc["nodes"], list) else None
    bodies = list(doc.values())
    if all(isinstance(b, dict) for b in bodies) and any(
        "class_type" in cast("Mapping[str, Any]", b) for b in bodies
    ):
        return "api"
    return None if bodies else "api"


def parse_workflow(
    data: bytes | str,
    *,
    name: str = "workflow",
    widget_names: Mapping[str, Sequence[str]] | None = None,
) -> Workflow:
    """Parse and check a workflow in either of ComfyUI's formats.

    Args:
        data: The workflow file's bytes (or its text).
        name: Where it came from (a file name or title); slugged into `Workflow.name`.
        widget_names: Node class -> its widget names in order, for custom nodes that an
            older UI save does not name (e.g. from a ComfyUI `/object_info`).

    Raises:
        WorkflowError: Too large, not JSON, neither format, empty, a node without a
            class_type, a link to a missing node, a cycle, or a UI save that cannot be
            converted; the message says what to do.
    """
    doc = _load_json(data)
    if not isinstance(doc, dict):
        raise WorkflowError(
            f"The workflow is a JSON {type(doc).__name__}, not an object; {_NEITHER}."
        )
    top = cast("Mapping[str, Any]", doc)
    kind = _format_of(top)
    if kind is None:
        raise WorkflowError(f"The file is not a ComfyUI workflow: {_NEITHER}.")
    if kind == "ui":
        if not top["nodes"]:
            raise WorkflowError(
                "The workflow is empty: it has no nodes. Build it in ComfyUI and save it again."
            )
        api: Mapping[str, Any] = ui_to_api(top, widget_names=widget_names or {})
        if not api:
            raise WorkflowError(
                "The workflow has only notes, reroutes, muted or bypassed nodes: nothing "
                "ComfyUI can run. Unmute its nodes in ComfyUI and save it again."
            )
    else:
        api = top
    nodes = _api_nodes(api)
    _check_links(nodes)
    _check_acyclic(nodes)
    workflow = Workflow(name=workflow_slug(name), nodes=nodes, source_format=kind, digest="0" * 64)
    return workflow.model_copy(update={"digest": workflow_digest(workflow.api_json())})
