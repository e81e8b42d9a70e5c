"""ComfyUI registry fake (`https://api.comfy.org`): the reverse lookup from a ComfyUI node
class to the node pack that provides it, `GET /comfy-nodes/{comfyNodeName}/node`, checked
against `specs/comfy-registry.subset.openapi.json` (requests and responses).

State: node packs with their class names, seeded with real packs (`comfy_registry_packs.json`:
class names from ComfyUI-Manager's published node map, ids and versions from each pack's
pyproject.toml). A class that several packs define goes to the pack that preempts it, else to
the first one seeded, as the registry answers one pack per name. Faults as in every fake:
`fake.fail("GET /comfy-nodes/{comfyNodeName}/node", 429, retry_after=2)`, 500, 503, "drop".
The registry takes no key for reads.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.responses import Response

from tools.simulator._base import FakeProvider, FakeRequest, json_response, route
from tools.simulator._contract import OpenApiContract

__all__ = ["NODE_ROUTE", "ComfyRegistryFake", "RegistryPack", "seed_packs"]

_HERE = Path(__file__).resolve().parent
# An absolute path: `load_spec` joins it onto the specs folder, which keeps it as it is, so
# this subset is read from the copy beside this module wherever the shared specs live.
_SPEC = str(_HERE / "specs" / "comfy-registry.subset.openapi.json")
NODE_ROUTE = "GET /comfy-nodes/{comfyNodeName}/node"
_REASONS = {404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}


@dataclass
class RegistryPack:
    """One node pack as the registry holds it (the fields the lookup returns)."""

    id: str
    name: str
    repository: str
    version: str
    class_names: tuple[str, ...]
    publisher: str | None = None
    preempted_comfy_node_names: tuple[str, ...] = ()

    def node_json(self) -> dict[str, Any]:
        """The pack as a `Node` of the published schema."""
        body: dict[str, Any] = {
            "id": self.id, "name": self.name, "repository": self.repository,
            "status": "NodeStatusActive",
            "latest_version": {"version": self.version, "node_id": self.id,
                               "status": "NodeVersionStatusActive", "deprecated": False},
        }  # fmt: skip
        if self.publisher:
            body["publisher"] = {"id": self.publisher, "status": "PublisherStatusActive"}
        if self.preempted_comfy_node_names:
            body["preempted_comfy_node_names"] = list(self.preempted_comfy_node_names)
        return body


@functools.cache
def _seed_data() -> tuple[dict[str, Any], ...]:
    raw = json.loads((_HERE / "comfy_registry_packs.json").read_text(encoding="utf-8"))
    return tuple(raw["packs"])


def seed_packs() -> list[RegistryPack]:
    """Fresh copies of the real packs the simulator starts with."""
    return [_pack(p) for p in _seed_data()]


def _pack(p: dict[str, Any]) -> RegistryPack:
    return RegistryPack(
        id=p["id"], name=p["name"], repository=p["repository"], version=p["version"],
        class_names=tuple(p["class_names"]), publisher=p.get("publisher"),
        preempted_comfy_node_names=tuple(p.get("preempted_comfy_node_names", ())),
    )  # fmt: skip


@dataclass
class _State:
    packs: dict[str, RegistryPack] = field(default_factory=dict[str, RegistryPack])


class ComfyRegistryFake(FakeProvider):
    """Stateful registry: `add_pack`, `remove_pack`, and the reverse lookup."""

    name = "ComfyUI registry"

    def __init__(self) -> None:
        super().__init__(OpenApiContract(_SPEC, host_url="https://api.comfy.org"))
        self.state = _State()
        self.reset_state()

    def reset_state(self) -> None:
        self.state = _State({p.id: p for p in seed_packs()})

    def add_pack(self, pack: RegistryPack) -> RegistryPack:
        self.state.packs[pack.id] = pack
        return pack

    def remove_pack(self, pack_id: str) -> None:
        self.state.packs.pop(pack_id, None)

    def pack_for(self, class_name: str) -> RegistryPack | None:
        """The pack the registry answers with for `class_name`, or None."""
        packs = [p for p in self.state.packs.values() if class_name in p.class_names]
        preempting = [p for p in packs if class_name in p.preempted_comfy_node_names]
        return (preempting or packs or [None])[0]

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        # The registry's `ErrorResponse`: both fields are required.
        body = {"error": _REASONS.get(status, "Error"), "message": message}
        return json_response(body, status, headers)

    @route("GET", "/comfy-nodes/{comfyNodeName:path}/node")
    async def node_by_class(self, req: FakeRequest) -> Response:
        name = req.params["comfyNodeName"]
        pack = self.pack_for(name)
        if pack is None:
            return self.error(404, f"comfy node {name} not found")
        return json_response(pack.node_json())
