"""The tools the model sees, in one toolset.

```
read-only      inspect_model, estimate_vram, choose_gpu, check_credential,
               build_dockerfile, get_deployment_status
question       request_api_key                    (CallDeferred(kind='question'))
approval       create_runpod_endpoint, push_to_github, deploy_vercel, deploy_netlify,
               teardown                           (requires_approval=True)
```

Every approval tool declares its approval card beside itself (`CARDS` in its module);
`APPROVAL_CARDS` gathers them, and a gated tool without one is an error at import.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

from pydantic_ai import Tool
from pydantic_ai.toolsets import FunctionToolset

from tools import app_tools, credential_tools, model_tools, pipeline_tools
from tools.approval import CardFn
from tools.deps import Deps

__all__ = ["APPROVAL_CARDS", "APPROVAL_TOOLS", "QUESTION_TOOLS", "build_toolset"]


def _tools() -> list[Tool[Deps]]:
    # Every parameter must be described in the tool's Google docstring: the descriptions
    # are the model's only manual.
    plain: dict[str, Any] = {
        "docstring_format": "google", "require_parameter_descriptions": True, "max_retries": 3,
    }  # fmt: skip
    approval: dict[str, Any] = {**plain, "requires_approval": True}
    return [
        Tool(model_tools.inspect_model, **plain),
        Tool(model_tools.estimate_vram, **plain),
        Tool(model_tools.choose_gpu, **plain),
        Tool(credential_tools.check_credential, **plain),
        Tool(credential_tools.request_api_key, **plain),
        Tool(pipeline_tools.build_dockerfile, **plain),
        Tool(pipeline_tools.get_deployment_status, **plain),
        Tool(pipeline_tools.create_runpod_endpoint, **approval),
        Tool(app_tools.push_to_github, **approval),
        Tool(app_tools.deploy_vercel, **approval),
        Tool(app_tools.deploy_netlify, **approval),
        Tool(pipeline_tools.teardown, **approval),
    ]


QUESTION_TOOLS: Final = frozenset({"request_api_key"})
APPROVAL_TOOLS: Final = frozenset(t.name for t in _tools() if t.requires_approval)
APPROVAL_CARDS: Final[dict[str, CardFn]] = {**app_tools.CARDS, **pipeline_tools.CARDS}
if missing := APPROVAL_TOOLS - APPROVAL_CARDS.keys():  # a card that is never shown cannot bind
    raise RuntimeError(f"approval tools without an approval card: {sorted(missing)}")


@lru_cache(maxsize=1)
def build_toolset() -> FunctionToolset[Deps]:
    """The agent's toolset; stateless, so one serves every turn."""
    return FunctionToolset[Deps](_tools())
