"""The base of every REST client: one `HttpApi` per key, and small typed call helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, SecretStr

from tools.clients._http import HttpApi, Retry, as_dict
from tools.clients._messages import ProviderInfo
from tools.clients.errors import NotFound, ProviderError, Timeout

__all__ = ["ProviderClient"]

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


class ProviderClient:
    """A provider's API for one key; subclasses set `info` and add methods.

    Args:
        http: The process-wide HTTP client (never carries a key itself).
        base_url: The API root from settings (real by default, a loopback fake in tests).
        token: The user's key for this provider.
        timeout_s: Per-request timeout.
        retry: Retry policy (a fake clock in tests).
    """

    info: ClassVar[ProviderInfo]

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        token: SecretStr,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        self._api = HttpApi(
            http=http, base_url=base_url, info=self.info, token=token,
            timeout_s=timeout_s, retry=retry,
        )  # fmt: skip

    def __repr__(self) -> str:
        # Never the token: a client may end up in a log line or a traceback.
        return f"{type(self).__name__}(base_url={self._api.base_url!r})"

    async def _one(self, cls: type[_M], method: str, path: str, what: str, **kwargs: Any) -> _M:
        """One call whose JSON answer is a `cls`."""
        return self._api.model(cls, await self._api.call(method, path, what=what, **kwargs))

    async def _many(self, cls: type[_M], path: str, key: str, **kwargs: Any) -> list[_M]:
        """A GET whose answer holds a list of `cls` under `key`."""
        data = await self._api.call("GET", path, what=f"your {key}", **kwargs)
        items: list[Any] = as_dict(data).get(key) or []
        return [self._api.model(cls, item) for item in items]

    async def _poll(
        self,
        fetch: Callable[[], Awaitable[_T]],
        *,
        done: Callable[[_T], bool],
        failed: Callable[[_T], ProviderError | None],
        poll_s: float,
        timeout_s: float,
        still: Callable[[_T], str],
        hint: str = "",
    ) -> _T:
        """Fetch until `done`; raise `failed`'s error, or `Timeout` with `still`'s text.

        Waits with the retry policy's `sleep` and `clock`, so tests run on a fake clock.
        """
        clock = self._api.retry.clock
        deadline = clock().timestamp() + timeout_s
        while not done(state := await fetch()):
            if (err := failed(state)) is not None:
                raise err
            if clock().timestamp() >= deadline:
                message = f"{still(state)} after {timeout_s:g} s. {hint}".strip()
                raise Timeout(message, provider=self.info.name)
            await self._api.retry.sleep(poll_s)
        return state

    async def _delete(self, path: str, what: str, **kwargs: Any) -> bool:
        """DELETE; False when the resource was already gone (so deleting is idempotent)."""
        try:
            await self._api.call("DELETE", path, what=what, **kwargs)
        except NotFound:
            return False
        return True
