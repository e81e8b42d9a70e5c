"""A stored ComfyUI workflow, analysed with the live clients: the Hub for each model file's
size and gating, the ComfyUI registry for each custom node's package. `plan_deployment`
(through `workflow_analysis`), the chat's `inspect_workflow` and `kriptik comfy inspect`
all analyse through here, so they agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tools.clients.comfy_registry import CachedNodeLookup, ComfyRegistryClient
from tools.clients.errors import NotFound, ProviderError
from tools.clients.huggingface import HuggingFaceClient
from tools.comfy import NodePackage, Workflow, WorkflowAnalysis
from tools.comfy.analyze import analyze_workflow
from tools.comfy.parse import parse_workflow
from tools.comfy.resolve import FileInfo
from tools.pipeline.services import PipelineServices
from vault.settings import Settings

__all__ = ["HubFileSizes", "RegistryNodes", "analyze_with_clients", "workflow_analysis"]


@dataclass(frozen=True)
class _Repo:
    files: dict[str, int | None]
    gated: bool
    sha: str | None


class HubFileSizes:
    """`tools.comfy.resolve.FileSizes` over the Hub: one `model_info` per repo and
    revision (with every file's size), however many of its files a workflow loads."""

    def __init__(self, hub: HuggingFaceClient) -> None:
        self._hub = hub
        self._repos: dict[tuple[str, str], _Repo | None] = {}

    async def _repo(self, repo_id: str, revision: str) -> _Repo | None:
        key = (repo_id, revision)
        if key not in self._repos:
            try:
                info = await self._hub.model_info(repo_id, revision=revision)
            except NotFound:
                self._repos[key] = None
            else:
                files = {s.rfilename: s.size for s in info.siblings or []}
                self._repos[key] = _Repo(files, bool(info.gated), info.sha)
        return self._repos[key]

    async def file_info(self, repo_id: str, path: str, revision: str) -> FileInfo | None:
        found = await self._repo(repo_id, revision)
        if found is None or path not in found.files:
            return None
        # The commit the revision names now: the worker downloads that, so the image holds
        # exactly the files that were sized and approved, whatever the branch does later.
        return FileInfo(size_bytes=found.files[path], gated=found.gated, commit=found.sha)


class RegistryNodes:
    """`tools.comfy.resolve.NodeLookup` over the ComfyUI registry's reverse lookup."""

    def __init__(self, lookup: CachedNodeLookup) -> None:
        self._lookup = lookup

    async def package_for(self, class_type: str) -> NodePackage | None:
        try:
            found = await self._lookup.node_for_class(class_type)
        except ProviderError:
            return None  # the registry is unreachable: the node is listed as unknown
        if found is None:
            return None
        # The latest version the registry lists is the pin: the image installs exactly it.
        return NodePackage(
            package_id=found.id, repo_url=found.repository or "",
            class_types=(class_type,), version=found.latest_version,
        )  # fmt: skip


async def analyze_with_clients(
    workflow: Workflow,
    *,
    hub: HuggingFaceClient,
    http: httpx.AsyncClient,
    settings: Settings,
    supplied: Mapping[str, Mapping[str, str]] | None = None,
) -> WorkflowAnalysis:
    """Analyse `workflow` with the Hub (`hub`: with the user's token, if any) and the
    registry."""
    client = ComfyRegistryClient(
        http=http, base_url=settings.comfy_registry_base_url, timeout_s=settings.http_timeout_s
    )
    # Each answer is kept a week with its date (the analysis shows the date it read).
    lookup = CachedNodeLookup(client, path=settings.home / "comfy-registry-cache.json")
    analysis = await analyze_workflow(
        workflow, sizes=HubFileSizes(hub), registry=RegistryNodes(lookup), supplied=supplied
    )
    as_of = lookup.as_of(p for pkg in analysis.packages for p in pkg.class_types)
    return analysis.model_copy(update={"node_map_as_of": as_of})


async def workflow_analysis(
    services: PipelineServices, user_id: str, workflow_id: str
) -> WorkflowAnalysis:
    """The user's stored workflow, analysed with what they supplied for it.

    Raises:
        WorkflowNotFound: No such workflow of this user's.
    """
    stored = await services.vault.workflows.get(user_id, workflow_id)
    workflow = parse_workflow(stored.api_json, name=stored.name)
    return await analyze_with_clients(
        workflow, hub=await services.hub(user_id), http=services.http,
        settings=services.settings, supplied=stored.supplied,
    )  # fmt: skip
