"""Convert ComfyUI's UI format (the editor's save: `nodes` and `links`) to the API format.

This follows what ComfyUI's frontend does when it queues a prompt:

- a link becomes `[source_node_id, output_slot]` on the consuming input;
- widget values are named (see `tools.comfy.ui_widgets`);
- frontend-only nodes never reach the API: notes are dropped, a `Reroute` is followed to
  what feeds it, a `PrimitiveNode`'s value is written into the inputs it feeds;
- a muted node (mode 2) is dropped; a bypassed node (mode 4) is passed through: its
  consumers take the input of the same type that feeds it.

Subgraphs and group nodes are refused: their insides live elsewhere in the file, and an
"Export (API)" save from ComfyUI flattens them for us.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from tools.comfy.model import WorkflowError
from tools.comfy.ui_widgets import name_widgets

__all__ = ["ui_to_api"]

MUTED: Final = 2
BYPASSED: Final = 4
_NOTES: Final = frozenset({"Note", "MarkdownNote"})
_REROUTE: Final = "Reroute"
_PRIMITIVE: Final = "PrimitiveNode"
_FRONTEND_ONLY: Final = _NOTES | {_REROUTE, _PRIMITIVE}
#: Keys of dict-shaped widget values that only the editor uses (VideoHelperSuite previews).
_UI_ONLY_KEYS: Final = frozenset({"videopreview"})
_ASK_EXPORT: Final = "In ComfyUI, save it with Workflow > Export (API) and attach that file."
_OR_EXPORT: Final = "or save it with Workflow > Export (API) and attach that file."


@dataclass(frozen=True)
class _Link:
    origin: str
    slot: int
    type: str


def _dict(value: object) -> Mapping[str, Any] | None:
    return cast("Mapping[str, Any]", value) if isinstance(value, dict) else None


def _list(value: object) -> list[Any]:
    return cast("list[Any]", value) if isinstance(value, list) else []


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _node_id(value: object) -> str | None:
    if _int(value) is not None or (isinstance(value, str) and value):
        return str(value)
    return None


def _label(node_id: str, node: Mapping[str, Any]) -> str:
    return f"node {node_id} ({node.get('type')})"


def _nodes_by_id(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    nodes: dict[str, Mapping[str, Any]] = {}
    for raw in _list(doc.get("nodes")):
        node = _dict(raw)
        node_id = _node_id(node.get("id")) if node is not None else None
        if node is None or node_id is None:
            raise WorkflowError(
                "A node in the UI-format workflow has no id. Re-save the workflow in ComfyUI, "
                "or save it with Workflow > Export (API) and attach that file."
            )
        if not isinstance(node.get("type"), str) or not node["type"]:
            raise WorkflowError(f"Node {node_id} has no type (class_type). {_ASK_EXPORT}")
        nodes[node_id] = node
    return nodes


def _parse_link(raw: object) -> tuple[int, _Link] | None:
    item = _dict(raw)
    if item is not None:
        fields = [item.get(k) for k in ("id", "origin_id", "origin_slot", "type")]
    elif len(row := _list(raw)) >= 6:
        fields = [row[0], row[1], row[2], row[5]]
    else:
        return None
    link_id, origin, slot = _int(fields[0]), _node_id(fields[1]), _int(fields[2])
    if link_id is None or origin is None or slot is None or slot < 0:
        return None
    return link_id, _Link(origin, slot, str(fields[3]))


def _links_by_id(doc: Mapping[str, Any]) -> dict[int, _Link]:
    links: dict[int, _Link] = {}
    for raw in _list(doc.get("links")):
        parsed = _parse_link(raw)
        if parsed is None:
            raise WorkflowError(
                f"A link in the UI-format workflow is malformed ({str(raw)[:80]}); links are "
                f"[id, from_node, from_slot, to_node, to_slot, type]. {_ASK_EXPORT}"
            )
        links[parsed[0]] = parsed[1]
    return links


def _refuse_subgraphs(doc: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> None:
    definitions = _dict(doc.get("definitions")) or {}
    subgraphs = {
        str(sub.get("id")): str(sub.get("name") or sub.get("id"))
        for sub in map(_dict, _list(definitions.get("subgraphs")))
        if sub is not None
    }
    extra = _dict(doc.get("extra")) or {}
    groups = set(_dict(extra.get("groupNodes")) or {})
    for node_id, node in nodes.items():
        kind = str(node["type"])
        if kind in subgraphs:
            raise WorkflowError(
                f"Node {node_id} is the subgraph '{subgraphs[kind]}', which KripTik cannot "
                "import from a UI save. In ComfyUI, unpack the subgraph (right-click > Unpack "
                f"Subgraph) and save again, {_OR_EXPORT}"
            )
        group = kind[len("workflow/") :]
        if kind.startswith(("workflow>", "workflow/")) and group in groups:
            raise WorkflowError(
                f"Node {node_id} is the group node '{group}', which KripTik cannot import "
                "from a UI save. In ComfyUI, convert it to nodes (right-click > Convert to "
                f"nodes) and save again, {_OR_EXPORT}"
            )


@dataclass(frozen=True)
class _Graph:
    nodes: Mapping[str, Mapping[str, Any]]
    links: Mapping[int, _Link]
    widget_names: Mapping[str, Sequence[str]]


def _bypass_input(graph: _Graph, node_id: str, link: _Link) -> int | None:
    """The link feeding a bypassed node's input of the same type as the output taken
    (the same slot first, as the frontend does)."""
    slots = [s for s in map(_dict, _list(graph.nodes[node_id].get("inputs"))) if s is not None]
    order = [link.slot, *range(len(slots))] if link.slot < len(slots) else range(len(slots))
    for index in order:
        slot = slots[index]
        if slot.get("type") == link.type and _int(slot.get("link")) is not None:
            return _int(slot["link"])
    return None


def _resolve(graph: _Graph, link_id: int, where: str) -> tuple[str, Any] | None:
    """Where a link really comes from: ("link", [id, slot]), ("value", primitive value),
    or None when nothing feeds it (an unconnected reroute)."""
    seen: set[int] = set()
    current = link_id
    while True:
        if current in seen:
            raise WorkflowError(f"{where} is fed by a loop of reroutes or bypassed nodes.")
        seen.add(current)
        link = graph.links.get(current)
        if link is None:
            raise WorkflowError(
                f"{where} uses link {current}, which is not in the file's links. Re-save the "
                f"workflow in ComfyUI. {_ASK_EXPORT}"
            )
        source = graph.nodes.get(link.origin)
        if source is None:
            raise WorkflowError(
                f"{where} is linked to node {link.origin}, which is not in the workflow. "
                "Reconnect that input in ComfyUI and save again."
            )
        following = _next_link(graph, link, source, where)
        if following is None:
            return _terminal(link, source)
        current = following


def _next_link(graph: _Graph, link: _Link, source: Mapping[str, Any], where: str) -> int | None:
    if source["type"] == _REROUTE:
        first = _dict(next(iter(_list(source.get("inputs"))), None)) or {}
        return _int(first.get("link"))
    if source.get("mode") == MUTED and source["type"] not in _FRONTEND_ONLY:
        raise WorkflowError(
            f"{where} takes its value from {_label(link.origin, source)}, which is muted. "
            "Unmute it, bypass it, or disconnect it in ComfyUI, then save again."
        )
    if source.get("mode") == BYPASSED and source["type"] not in _FRONTEND_ONLY:
        fed = _bypass_input(graph, link.origin, link)
        if fed is None:
            raise WorkflowError(
                f"{where} takes its value from {_label(link.origin, source)}, which is "
                f"bypassed and has no connected {link.type} input to pass through instead. "
                "Un-bypass it or reconnect the input in ComfyUI, then save again."
            )
        return fed
    return None


def _terminal(link: _Link, source: Mapping[str, Any]) -> tuple[str, Any] | None:
    if source["type"] == _REROUTE:
        return None
    if source["type"] == _PRIMITIVE:
        values = _list(source.get("widgets_values"))
        return ("value", values[0]) if values else None
    return ("link", [link.origin, link.slot])


def _widget_inputs(graph: _Graph, node: Mapping[str, Any]) -> dict[str, Any]:
    raw = node.get("widgets_values")
    if isinstance(raw, dict):
        return {k: v for k, v in cast("dict[str, Any]", raw).items() if k not in _UI_ONLY_KEYS}
    values = _list(raw)
    named = name_widgets(node, values, graph.widget_names)
    if named is None:
        raise _UnnamedWidgets(str(node["type"]))
    return named


class _UnnamedWidgets(Exception):
    def __init__(self, class_type: str) -> None:
        super().__init__(class_type)
        self.class_type = class_type


def _api_node(graph: _Graph, node_id: str, node: Mapping[str, Any]) -> dict[str, Any]:
    inputs = _widget_inputs(graph, node)
    for slot in map(_dict, _list(node.get("inputs"))):
        link_id = _int(slot.get("link")) if slot is not None else None
        if slot is None or link_id is None or not isinstance(slot.get("name"), str):
            continue
        where = f"Input '{slot['name']}' of {_label(node_id, node)}"
        fed = _resolve(graph, link_id, where)
        if fed is not None:
            inputs[str(slot["name"])] = fed[1]
    body: dict[str, Any] = {"inputs": inputs, "class_type": node["type"]}
    if isinstance(node.get("title"), str) and node["title"]:
        body["_meta"] = {"title": node["title"]}
    return body


def ui_to_api(
    doc: Mapping[str, Any], *, widget_names: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, Any]]:
    """The API-format nodes of a UI-format workflow.

    Args:
        doc: The parsed UI save (`nodes`, `links`, ...).
        widget_names: Widget names, in order, for node classes the save does not name.

    Raises:
        WorkflowError: A subgraph, a broken link, or widget values whose names are unknown.
    """
    nodes = _nodes_by_id(doc)
    _refuse_subgraphs(doc, nodes)
    graph = _Graph(nodes, _links_by_id(doc), widget_names)
    out: dict[str, dict[str, Any]] = {}
    unnamed: list[str] = []
    for node_id, node in nodes.items():
        if node["type"] in _FRONTEND_ONLY or node.get("mode") in (MUTED, BYPASSED):
            continue
        try:
            out[node_id] = _api_node(graph, node_id, node)
        except _UnnamedWidgets as missing:
            unnamed.append(f"{node_id} ({missing.class_type})")
    if unnamed:
        raise WorkflowError(
            "This UI-format save does not name the widget values of node(s) "
            f"{', '.join(unnamed)}, and KripTik does not know those nodes' inputs. " + _ASK_EXPORT
        )
    return out
