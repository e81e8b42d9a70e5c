"""`agent.tool_schemas.CachedToolSchemas`: the tool definitions a request carries are
exactly pydantic-ai's, customised once per tool instead of on every request."""

from __future__ import annotations

from dataclasses import replace

from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.openrouter import OpenRouterModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.providers.openrouter import OpenRouterProvider
from pydantic_ai.tools import ToolDefinition

from agent.tool_schemas import CachedToolSchemas
from agent.toolset import build_toolset

_UNUSED_URL = "http://127.0.0.1:9/v1"  # nothing is sent: only the request is prepared


class _Chat(CachedToolSchemas, OpenAIChatModel):
    pass


class _Router(CachedToolSchemas, OpenRouterModel):
    pass


def _pairs() -> list[tuple[Model, Model]]:
    openai = OpenAIProvider(base_url=_UNUSED_URL, api_key="test-key")
    router = OpenRouterProvider(api_key="test-key")
    return [
        (_Chat("m", provider=openai), OpenAIChatModel("m", provider=openai)),
        (_Router("a/b", provider=router), OpenRouterModel("a/b", provider=router)),
    ]


def _tools() -> list[ToolDefinition]:
    return [tool.tool_def for tool in build_toolset().tools.values()]


def _params() -> ModelRequestParameters:
    output = ToolDefinition(name="final_result", parameters_json_schema={
        "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"],
    })  # fmt: skip
    return ModelRequestParameters(function_tools=_tools(), output_tools=[output])


def test_the_definitions_equal_pydantic_ais_on_every_request() -> None:
    for ours, stock in _pairs():
        expected = stock.customize_request_parameters(_params())
        for _ in range(3):  # the first request computes, the next ones reuse
            assert ours.customize_request_parameters(_params()) == expected
        assert len(expected.function_tools) == len(_tools()) >= 10


def test_each_tool_is_customised_once() -> None:
    for ours, stock in _pairs():
        first = ours.customize_request_parameters(_params()).function_tools
        again = ours.customize_request_parameters(_params()).function_tools
        assert all(a.parameters_json_schema is b.parameters_json_schema
                   for a, b in zip(first, again, strict=True))  # fmt: skip
        # pydantic-ai alone walks the schemas again (new objects every request).
        one = stock.customize_request_parameters(_params()).function_tools[0]
        two = stock.customize_request_parameters(_params()).function_tools[0]
        assert one.parameters_json_schema is not two.parameters_json_schema


def test_a_new_schema_or_strictness_is_customised_afresh() -> None:
    ours, stock = _pairs()[0]
    tool = _tools()[0]
    changed = replace(tool, parameters_json_schema={
        **tool.parameters_json_schema, "description": "changed",
    })  # fmt: skip
    for variant in (changed, replace(tool, strict=True)):
        params = ModelRequestParameters(function_tools=[variant])
        assert ours.customize_request_parameters(params) == stock.customize_request_parameters(
            params
        )
