"""A workflow into the user's store, before the agent runs: an attached or pasted workflow
(`import_workflow`), or one at a URL the user wrote (`fetch_workflow_url`), and the marker
line the model reads instead of the workflow (`workflow_marker`).

Apart from `tools.workflow_tools` (the agent's tool) so the front end imports it without
pydantic-ai: the chat app loads it at start, the agent stack on the first turn.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlsplit

import httpx

from tools.clients.workflow_fetch import FetchRefused, fetch_workflow_bytes
from tools.comfy import MAX_WORKFLOW_BYTES, WorkflowError
from tools.comfy.parse import canonical_json, check_workflow_url, parse_workflow
from vault.settings import Settings
from vault.store import Vault
from vault.workflows import StoredWorkflow

__all__ = ["fetch_workflow_url", "import_workflow", "workflow_marker"]


def workflow_marker(stored: StoredWorkflow, nodes: int) -> str:
    """The line the front end adds to the user's message for an attached workflow."""
    return (
        f"[ComfyUI workflow attached: {stored.name}, {nodes} nodes, workflow id "
        f"{stored.id}. Call inspect_workflow with this id.]"
    )


async def import_workflow(
    vault: Vault, user_id: str, data: bytes | str, *, name: str
) -> tuple[StoredWorkflow, int]:
    """Parse and keep a workflow for the user: (the stored workflow, its node count).

    Raises:
        WorkflowError: It is not a workflow KripTik can take (the message says why).
    """
    workflow = parse_workflow(data, name=name)
    stored = await vault.workflows.save(
        user_id, name=workflow.name, digest=workflow.digest,
        source_format=workflow.source_format, api_json=canonical_json(workflow.api_json()),
    )  # fmt: skip
    return stored, len(workflow.nodes)


async def fetch_workflow_url(
    vault: Vault, http: httpx.AsyncClient, settings: Settings, user_id: str, url: str
) -> tuple[StoredWorkflow, int]:
    """Fetch a workflow from a URL the user wrote and keep it (as `import_workflow`).

    Raises:
        WorkflowError: Not https, not a public address, too large, unreachable, or not a
            workflow (the message says why and what to do instead).
    """
    try:
        data = await fetch_workflow_bytes(
            http, check_workflow_url(url), max_bytes=MAX_WORKFLOW_BYTES,
            timeout_s=settings.http_timeout_s,
            allow_private=settings.workflow_fetch_allow_private,
        )  # fmt: skip
    except FetchRefused as err:
        raise WorkflowError(str(err)) from None
    name = PurePosixPath(urlsplit(url).path).stem or "workflow"
    return await import_workflow(vault, user_id, data, name=name)
