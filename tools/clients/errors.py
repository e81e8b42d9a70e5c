"""One error tree for every provider, with messages a user can act on.

```
ProviderError                      provider, status, request_id, retry_after, message
├── AuthError                      401: the key is wrong, revoked or expired
├── ProviderPermissionError        403: the key is valid but may not do this
│   └── GatedRepo                  Hugging Face: accept the licence first
├── NotFound                       404: no such repo / endpoint / deployment
├── Conflict                       409: exists already, or changed under us
├── InvalidRequest                 400 / 422: the provider rejected the input
├── OAuthFailed                    an OAuth flow ended without a token; `code` is the
│                                  provider's error (access_denied, invalid_grant, ...)
├── RateLimited                    429: wait retry_after seconds (None: unknown)
├── Upstream                       5xx, or a 2xx body we cannot read
│   ├── Timeout                    no answer within the client's timeout
│   └── Unreachable                DNS failure, refused or dropped connection
└── BuildFailed                    docker: the image did not build, tag or push
```

Every instance carries the provider's display name, the HTTP status (0 when no response
came back), the provider's request id when it sent one, and a message written for the
user as a next step. None of them ever holds the request, its headers or the key: the
message is composed from the status, the provider's own error text (scrubbed of the key)
and fixed hints, so an exception can be logged, shown or handed to the model as it is.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypedDict, Unpack

__all__ = [
    "AuthError",
    "BuildFailed",
    "Conflict",
    "GatedRepo",
    "InvalidRequest",
    "NotFound",
    "OAuthFailed",
    "ProviderError",
    "ProviderPermissionError",
    "RateLimited",
    "Timeout",
    "Unreachable",
    "Upstream",
]


class ProviderError(Exception):
    """A provider call failed; `str(err)` is the message to show the user.

    Attributes:
        provider: Display name of the provider, e.g. "RunPod".
        status: HTTP status code, or 0 when no response arrived.
        request_id: The provider's request id, for support tickets.
        retry_after: Seconds the provider asked us to wait, when it said so.
        message: The user-facing, actionable message.
    """

    #: Whether the failure is transient, so that the same call may succeed later.
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int = 0,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only arguments defeat `BaseException.__reduce__` (it re-calls
        # `cls(*args)`), and DBOS pickles every error a step or workflow raises. Rebuild
        # without `__init__`, then restore the attributes (subclasses' extras and notes too).
        return (_restore, (type(self), self.args), self.__dict__.copy())

    def __repr__(self) -> str:
        # Deliberately no request, URL or headers: only what the user may see anyway.
        return (
            f"{type(self).__name__}(provider={self.provider!r}, status={self.status}, "
            f"request_id={self.request_id!r}, message={self.message!r})"
        )


def _restore(cls: type[ProviderError], args: tuple[object, ...]) -> ProviderError:
    """Unpickle a `ProviderError`: an instance of `cls` with its `args`; pickle then sets
    the attributes from the saved state."""
    err = cls.__new__(cls)
    err.args = args
    return err


class AuthError(ProviderError):
    """The provider rejected the key (401, or a 403 that the provider uses for a bad key)."""


class ProviderPermissionError(ProviderError):
    """The key is valid but lacks the permission, scope or access that this call needs."""


class GatedRepo(ProviderPermissionError):
    """A gated Hugging Face repo whose conditions this account has not accepted yet."""


class NotFound(ProviderError):
    """The named resource does not exist, or this key cannot see it."""


class Conflict(ProviderError):
    """The resource already exists, or changed since it was read."""


class InvalidRequest(ProviderError):
    """The provider rejected the request's content (400, 422)."""


class OAuthFailed(ProviderError):
    """An OAuth flow (device, web, PKCE, refresh) ended without a token.

    Attributes:
        code: The provider's own error code: `access_denied`, `expired_token`,
            `invalid_grant`, `bad_verification_code`, `bad_refresh_token`, ... The
            message says what the user does next and never holds a token or a code.
    """

    def __init__(
        self, message: str, *, provider: str, code: str, **details: Unpack[_Details]
    ) -> None:
        super().__init__(message, provider=provider, **details)
        self.code = code


class RateLimited(ProviderError):
    """The provider asked us to slow down; `retry_after` says for how long, when known."""

    retryable = True


class _Details(TypedDict, total=False):
    """`ProviderError`'s optional keywords, for subclasses that only add their own."""

    status: int
    request_id: str | None
    retry_after: float | None


class Upstream(ProviderError):
    """The provider failed (5xx) or answered with something that cannot be read.

    Attributes:
        request_sent: False when the request provably never reached the provider (the
            connection was refused or timed out), so even a create is safe to retry.
    """

    retryable = True

    def __init__(
        self, message: str, *, provider: str, request_sent: bool = True, **details: Unpack[_Details]
    ) -> None:
        super().__init__(message, provider=provider, **details)
        self.request_sent = request_sent


class Timeout(Upstream):
    """No answer arrived within the client's timeout."""


class Unreachable(Upstream):
    """The connection failed, or dropped before a complete answer arrived."""


class BuildFailed(ProviderError):
    """A container image failed to build, tag or push."""
