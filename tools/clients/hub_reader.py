"""The Hub client as sizing reads it: `SizingHubReader`, and `hub_error`, which turns the
client's (and `huggingface_hub`'s) errors into `SizingError`s a user can act on.

Sizing is arithmetic over metadata and imports nothing from the clients; this adapter is
where fetching meets it. Anything with `HubReader`'s methods that raises the clients' error
tree can be wrapped: the `HuggingFaceClient`, or an in-memory fake in tests.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from tools.clients import errors as provider_errors
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
    from huggingface_hub.utils import SafetensorsFileMetadata, SafetensorsRepoMetadata

    from tools.sizing.hub import HubReader

__all__ = ["SizingHubReader", "hub_error"]

_T = TypeVar("_T")


class SizingHubReader:
    """A `HubReader` over a Hub client: the same calls, every failure a `SizingError`."""

    def __init__(self, client: HubReader) -> None:
        self._client = client  # raises the clients' errors, not sizing's

    async def model_info(self, repo_id: str, *, revision: str | None = None) -> ModelInfo:
        return await _translated(
            self._client.model_info(repo_id, revision=revision), repo_id, revision
        )

    async def safetensors_metadata(
        self, repo_id: str, *, revision: str | None = None
    ) -> SafetensorsRepoMetadata | None:
        return await _translated(
            self._client.safetensors_metadata(repo_id, revision=revision), repo_id, revision
        )

    async def safetensors_file_metadata(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> SafetensorsFileMetadata | None:
        return await _translated(
            self._client.safetensors_file_metadata(repo_id, filename, revision=revision),
            repo_id,
            revision,
        )

    async def read_json(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> dict[str, Any] | None:
        return await _translated(
            self._client.read_json(repo_id, filename, revision=revision), repo_id, revision
        )

    async def read_text(
        self, repo_id: str, filename: str, *, revision: str | None = None
    ) -> str | None:
        return await _translated(
            self._client.read_text(repo_id, filename, revision=revision), repo_id, revision
        )


async def _translated(awaitable: Awaitable[_T], repo_id: str, revision: str | None) -> _T:
    try:
        return await awaitable
    except Exception as error:
        raise hub_error(error, repo_id, revision=revision) from error


def hub_error(error: Exception, repo_id: str, *, revision: str | None = None) -> SizingError:
    """Translate a Hub client's exception into a `SizingError` the user can act on."""
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
