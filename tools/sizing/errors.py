"""Typed errors for model sizing, each with a message the user (or the agent) can act on.

```
SizingError (ValueError)
├── UnknownRepoError          no such repo or revision on the Hub, or it is private
├── GatedRepoError            gated repo whose licence this account has not accepted
├── HubAuthError              Hugging Face rejected the token
├── HubUnavailableError       the Hub could not be reached or answered with an error
├── NoWeightsError            the repo holds no weight files we can size
├── MalformedConfigError      config.json is missing fields or holds impossible values
├── ContextTooLongError       the requested context exceeds the model's maximum
├── InvalidBatchError         batch below 1
├── InvalidContextError       context below 1
├── UnknownDtypeError         a dtype name we do not know
└── InvalidOptionError        any other out-of-range option (utilization, GPU count, ...)
```

The agent layer turns these into `ModelRetry`, so every message states what to change.
"""

from __future__ import annotations

__all__ = [
    "ContextTooLongError",
    "GatedRepoError",
    "HubAuthError",
    "HubUnavailableError",
    "InvalidBatchError",
    "InvalidContextError",
    "InvalidOptionError",
    "MalformedConfigError",
    "NoWeightsError",
    "SizingError",
    "UnknownDtypeError",
    "UnknownRepoError",
]


class SizingError(ValueError):
    """Base class: sizing could not proceed; `str(err)` tells the user what to do next."""


class UnknownRepoError(SizingError):
    """The repo or revision does not exist, or this account cannot see it."""


class GatedRepoError(SizingError):
    """The repo is gated and this account has not been granted access yet."""

    def __init__(self, repo_id: str, *, hub_url: str = "https://huggingface.co") -> None:
        self.repo_id = repo_id
        self.access_url = f"{hub_url.rstrip('/')}/{repo_id}"
        super().__init__(
            f"{repo_id} is gated: open {self.access_url}, sign in with the account whose "
            'Hugging Face token KripTik uses, accept the licence ("Agree and access '
            'repository"), wait for approval if the authors review requests, then try again'
        )


class HubAuthError(SizingError):
    """Hugging Face rejected the token (revoked, expired or mistyped)."""


class HubUnavailableError(SizingError):
    """The Hub did not answer usefully (network failure, rate limit, server error)."""


class NoWeightsError(SizingError):
    """No weight files (safetensors, .bin, .pt, .gguf, ...) were found in the repo."""


class MalformedConfigError(SizingError):
    """config.json is missing required fields or holds impossible values."""


class ContextTooLongError(SizingError):
    """The requested context is longer than the model supports."""

    def __init__(self, context_tokens: int, maximum: int) -> None:
        self.context_tokens = context_tokens
        self.maximum = maximum
        super().__init__(
            f"context {context_tokens} exceeds the model's maximum of {maximum}; "
            f"use --context {maximum} or less"
        )


class InvalidBatchError(SizingError):
    """Batch size below 1."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        super().__init__(f"batch must be at least 1 (got {batch}); use --batch 1 or more")


class InvalidContextError(SizingError):
    """Context below 1 token."""

    def __init__(self, context_tokens: int) -> None:
        self.context_tokens = context_tokens
        super().__init__(
            f"context must be at least 1 token (got {context_tokens}); use e.g. --context 4096"
        )


class UnknownDtypeError(SizingError):
    """A dtype name that is not one of the supported ones."""

    def __init__(self, name: str, choices: tuple[str, ...]) -> None:
        self.name = name
        super().__init__(f"unknown dtype {name!r}; use one of: {', '.join(choices)}")


class InvalidOptionError(SizingError):
    """An option outside its allowed range."""
