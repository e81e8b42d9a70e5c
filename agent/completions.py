"""Our OpenAI client: the SDK's own, minus its per-request type walk over the conversation.

Before it sends a chat completion, the OpenAI SDK walks the whole request against its
TypedDicts (`async_maybe_transform`) to apply field aliases and formats. A message is a
union of six TypedDicts and the SDK walks each message against all six, in Python: about
2 ms for the tool schemas alone and 20 ms for a 100-message thread, on every request
(the largest single cost of a chat turn; `docs/performance.md`). The message and tool
types declare no alias and no format, so for the plain dicts and lists pydantic-ai sends
the walk returns what it was given. `_Completions.create` therefore walks every other
field as the SDK does, and passes `messages` and `tools` through as they are.

`tests/agent/test_completions.py` pins both halves: no alias or format anywhere under the
message and tool types, and the same request body on the wire as the stock SDK sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openai import NOT_GIVEN, AsyncOpenAI, AsyncStream, Omit, omit

# The SDK's request helpers are not re-exported at its top level; they are what its own
# `create` calls, pinned by uv.lock and by the test above.
from openai._base_client import make_request_options  # pyright: ignore[reportPrivateUsage]
from openai._utils import async_maybe_transform  # pyright: ignore[reportPrivateUsage]
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions
from openai.resources.chat.completions.completions import validate_response_format
from openai.types.chat import ChatCompletion, ChatCompletionChunk, completion_create_params

__all__ = ["PASSED_THROUGH", "ChatClient"]

# The request fields sent as given: their types declare no alias and no format.
PASSED_THROUGH = ("messages", "tools")


class _Completions(AsyncCompletions):
    # Keyword-only, as pydantic-ai calls it; the SDK's overloads spell out every field.
    async def create(  # pyright: ignore[reportIncompatibleMethodOverride]
        self,
        *,
        extra_headers: Any = None,
        extra_query: Any = None,
        extra_body: Any = None,
        timeout: Any = NOT_GIVEN,  # noqa: ASYNC109 - the SDK's per-request timeout
        **fields: Any,
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        validate_response_format(fields.get("response_format", omit))
        kept = {name: fields.pop(name) for name in PASSED_THROUGH if name in fields}
        stream = bool(fields.get("stream"))
        params = (
            completion_create_params.CompletionCreateParamsStreaming
            if stream
            else completion_create_params.CompletionCreateParamsNonStreaming
        )
        body: dict[str, Any] = await async_maybe_transform(fields, params) or {}
        body.update({name: _as_list(value) for name, value in kept.items() if _given(value)})
        return await self._post(
            "/chat/completions",
            body=body,
            options=make_request_options(
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
                timeout=timeout,
                security={"bearer_auth": True},
            ),
            cast_to=ChatCompletion,
            stream=stream,
            stream_cls=AsyncStream[ChatCompletionChunk],
        )


def _given(value: Any) -> bool:
    return not isinstance(value, Omit) and value is not NOT_GIVEN


def _as_list(value: Iterable[Any]) -> list[Any]:
    return value if isinstance(value, list) else list(value)  # as the SDK walk does


class _Chat(AsyncChat):
    def __init__(self, client: AsyncOpenAI) -> None:
        super().__init__(client)
        # The SDK's resources are cached properties: filling the cache replaces them.
        vars(self)["completions"] = _Completions(client)


class ChatClient(AsyncOpenAI):
    """`AsyncOpenAI` whose chat completions skip the walk over messages and tools."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        vars(self)["chat"] = _Chat(self)
