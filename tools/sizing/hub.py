"""The Hub as sizing sees it: a small read-only protocol, and its errors mapped to ours.

`tools.clients.huggingface.HuggingFaceClient` implements `HubReader`; tests pass in-memory
fakes. Whatever a reader raises is translated by `hub_error` into a `SizingError` whose
message says what to do next (accept a licence, check the repo id, retry later).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from tools.clients import errors as provider_errors
from tools.clients.repo_ids import is_hub_repo_id
from tools.sizing.errors import (
    GatedRepoError,
    HubAuthError,
    HubUnavailableError,
    MalformedConfigError,
    SizingError,
    UnknownRepoError,
)

if TYPE_CHECKING:
    # Types only: importing huggingface_hub costs about a second, which `kriptik size
    # --config` (offline) should not pay.
    from huggingface_hub.hf_api import ModelInfo
    from huggingface_hub.utils import SafetensorsRepoMetadata

__all__ = ["HubReader", "check_repo_id", "hub_error"]


class HubReader(Protocol):
    """Read-only access to Hugging Face repos, as sizing needs it."""

    async def model_info(self, repo_id: str, *, revision: str | None = None) -> ModelInfo:
        """Repo metadata fetched with files_metadata=True (sibling sizes, safetensors)."""
        ...

    async def safetensors_metadata(
        self, repo_id: str, *, revision: str | None = None
    ) -> SafetensorsRepoMetadata | None:
        """Safetensors headers of model.safetensors or its index; None without them."""
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


def hub_error(error: Exception, repo_id: str, *, revision: str | None = None) -> SizingError:
    """Translate a reader's exception into a `SizingError` the user can act on."""
    from huggingface_hub import errors as hf_errors

    if isinstance(error, SizingError):
        return error
    if isinstance(error, provider_errors.GatedRepo | hf_errors.GatedRepoError):
        return GatedRepoError(repo_id)
    if isinstance(error, hf_errors.RevisionNotFoundError):
        return UnknownRepoError(
            f"{repo_id} has no revision {revision!r}; use a branch, tag or commit that exists"
        )
    if isinstance(error, provider_errors.NotFound):
        return UnknownRepoError(str(error))  # the client's message already says what to fix
    if isinstance(error, provider_errors.AuthError):
        return HubAuthError(str(error))
    if isinstance(error, hf_errors.RepositoryNotFoundError):
        where = f" at revision {revision!r}" if revision else ""
        return UnknownRepoError(
            f"{repo_id}{where} was not found on Hugging Face; check the spelling, or add a "
            "Hugging Face token that can read it if the repo is private"
        )
    if isinstance(error, provider_errors.InvalidRequest):
        return MalformedConfigError(f"{repo_id}: {error}")
    if isinstance(error, provider_errors.ProviderError):
        return HubUnavailableError(f"Hugging Face could not be read: {error}")
    if isinstance(error, hf_errors.HfHubHTTPError | OSError | TimeoutError):
        return HubUnavailableError(
            f"Hugging Face could not be read ({type(error).__name__}); try again in a minute"
        )
    raise error
