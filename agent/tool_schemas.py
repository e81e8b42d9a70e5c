"""The tools' JSON schemas as the model's API takes them, computed once per tool instead of
on every request.

Before each request pydantic-ai walks every tool's JSON schema through the model profile's
transformer (for OpenAI: strict-mode checks, `$ref` inlining, a deep copy). For our 14
tools that was about a tenth of a chat turn's CPU, and the answer never changes: the
toolset is built once per process (`agent.toolset.build_toolset`) and each tool keeps
its schema object. `CachedToolSchemas` overrides `Model.customize_request_parameters`
(the documented hook for it): each function tool's customised definition is kept per
transformer, schema object and strictness, and everything else (output tools, an output
object) goes through pydantic-ai unchanged. What is sent is exactly what pydantic-ai
would send (tests/agent/test_tool_schemas.py compares the wire).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.tools import ToolDefinition

__all__ = ["CachedToolSchemas"]

_MAX_ENTRIES: Final = 256  # far above the toolset's size: a bound, not a policy


@dataclass(frozen=True)
class _Customised:
    source: dict[str, Any]  # kept alive, so the id in the key is never reused meanwhile
    schema: dict[str, Any]
    strict: bool | None


# (transformer, schema object, strictness) -> the customised schema: what the answer
# depends on, and nothing else (`_customize_tool_def` in pydantic_ai.models).
_CUSTOMISED: dict[tuple[int, int, bool | None], _Customised] = {}


class CachedToolSchemas(Model):
    """Mixed in before a pydantic-ai model class: `class M(CachedToolSchemas, OpenAIChatModel)`."""

    def customize_request_parameters(
        self, model_request_parameters: ModelRequestParameters
    ) -> ModelRequestParameters:
        params = model_request_parameters
        if not self.profile.get("json_schema_transformer") or not params.function_tools:
            return super().customize_request_parameters(params)
        tools = [self._customise(tool) for tool in params.function_tools]
        rest = super().customize_request_parameters(replace(params, function_tools=[]))
        return replace(rest, function_tools=tools)

    def _customise(self, tool: ToolDefinition) -> ToolDefinition:
        transformer = self.profile.get("json_schema_transformer")
        key = (id(transformer), id(tool.parameters_json_schema), tool.strict)
        found = _CUSTOMISED.get(key)
        if found is None or found.source is not tool.parameters_json_schema:
            # pydantic-ai's own customisation, for this one tool (and its errors, unchanged).
            alone = ModelRequestParameters(function_tools=[tool])
            done = super().customize_request_parameters(alone).function_tools[0]
            if len(_CUSTOMISED) >= _MAX_ENTRIES:
                _CUSTOMISED.clear()
            found = _Customised(
                tool.parameters_json_schema, done.parameters_json_schema, done.strict
            )
            _CUSTOMISED[key] = found
        return replace(tool, parameters_json_schema=found.schema, strict=found.strict)
