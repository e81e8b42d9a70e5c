"""The tools the model sees, in one toolset.

```
read-only      inspect_model, estimate_vram, choose_gpu, compare_targets, check_credential,
               build_dockerfile, get_deployment_status, inspect_workflow
question       request_api_key                    (CallDeferred(kind='question'))
approval       create_runpod_endpoint, push_to_github, deploy_vercel, deploy_netlify,
               teardown                           (requires_approval=True)
```

Every approval tool declares its approval card on itself (`tools.approval.approval_card`):
a tool that declares one is registered with `requires_approval=True`, and `APPROVAL_CARDS`
reads the cards from the tools, so no gated tool is without one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from pydantic_ai import Tool
from pydantic_ai.toolsets import FunctionToolset

from tools import (
    app_tools,
    credential_tools,
    model_tools,
    pipeline_tools,
    target_tools,
    workflow_tools,
)
from tools.approval import CardFn, card_of
from tools.deps import Deps

__all__ = ["APPROVAL_CARDS", "APPROVAL_TOOLS", "QUESTION_TOOLS", "build_toolset"]


def _tool(function: Callable[..., Any]) -> Tool[Deps]:
    # Every parameter must be described in the tool's Google docstring: the descriptions
    # are the model's only manual. The model reads the docstring's first paragraph and its
    # Args, nothing after them, on every request (they are most of the fixed prefix): keep
    # both to what it needs to choose and call the tool, and notes for readers after Args.
    # A tool with an approval card needs approval.
    return Tool(
        function, docstring_format="google", require_parameter_descriptions=True,
        max_retries=3, requires_approval=card_of(function) is not None,
    )  # fmt: skip


def _tools() -> list[Tool[Deps]]:
    return [
        _tool(model_tools.inspect_model),
        _tool(model_tools.estimate_vram),
        _tool(model_tools.choose_gpu),
        _tool(target_tools.compare_targets),
        _tool(workflow_tools.inspect_workflow),
        _tool(credential_tools.check_credential),
        _tool(credential_tools.request_api_key),
        _tool(pipeline_tools.build_dockerfile),
        _tool(pipeline_tools.get_deployment_status),
        _tool(pipeline_tools.create_runpod_endpoint),
        _tool(app_tools.push_to_github),
        _tool(app_tools.deploy_vercel),
        _tool(app_tools.deploy_netlify),
        _tool(pipeline_tools.teardown),
    ]


def _cards(tools: list[Tool[Deps]]) -> dict[str, CardFn]:
    return {tool.name: card for tool in tools if (card := card_of(tool.function)) is not None}


QUESTION_TOOLS: Final = frozenset({"request_api_key"})
APPROVAL_CARDS: Final[dict[str, CardFn]] = _cards(_tools())
APPROVAL_TOOLS: Final = frozenset(APPROVAL_CARDS)


@lru_cache(maxsize=1)
def build_toolset() -> FunctionToolset[Deps]:
    """The agent's toolset; stateless, so one serves every turn."""
    return FunctionToolset[Deps](_tools())
