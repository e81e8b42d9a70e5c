"""The Hub as sizing sees it: a small read-only protocol, and the repo-id check before it.

`tools.clients.hub_reader.SizingHubReader` implements `HubReader` over the Hugging Face
client, turning the client's errors into `SizingError`s whose message says what to do next
(accept a licence, check the repo id, retry later); tests may pass in-memory readers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from tools.sizing.errors import UnknownRepoError
from tools.sizing.repo_ids import is_hub_repo_id

if TYPE_CHECKING:
    # Types only: importing huggingface_hub costs about a second, which `kriptik size
    # --config` (offline) should not pay.
    from huggingface_hub.hf_api import ModelInfo
    from huggingface_hub.utils import SafetensorsFileMetadata, SafetensorsRepoMetadata

__all__ = ["HubReader", "check_repo_id"]


class HubReader(Protocol):
    """Read-only access to Hugging Face repos, as sizing needs it.

    Every method raises a `SizingError` (`GatedRepoError`, `UnknownRepoError`,
    `HubAuthError`, `HubUnavailableError`, ...) when the Hub cannot answer, never a
    client's own error: `SizingHubReader` translates them.
    """

    async def model_info(self, repo_id: str, *, revision: str | None = None) -> ModelInfo:
        """Repo metadata fetched with files_metadata=True (sibling sizes, safetensors)."""
        ...

    async def safetensors_metadata(
        self, repo_id: str, *, revision: str | None = None
    ) -> SafetensorsRepoMetadata | None:
        """Safetensors headers of model.safetensors or its index; None without them."""
        ...

    async def safetensors_file_metadata(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> SafetensorsFileMetadata | None:
        """The header of one safetensors file (a pipeline component's), or None without it."""
        ...

    async def read_json(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> dict[str, Any] | None:
        """A JSON file of the repo, or None when the file is absent."""
        ...

    async def read_text(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> str | None:
        """A text file of the repo (README.md), or None when the file is absent."""
        ...


def check_repo_id(repo_id: str) -> str:
    """Return `repo_id` stripped, or raise `UnknownRepoError` if it cannot be a repo id."""
    cleaned = repo_id.strip().removeprefix("https://huggingface.co/").strip("/")
    if not is_hub_repo_id(cleaned, owner_required=True):
        raise UnknownRepoError(
            f"{repo_id!r} is not a Hugging Face repo id; use the form owner/name, "
            "e.g. meta-llama/Llama-3.1-8B"
        )
    return cleaned
