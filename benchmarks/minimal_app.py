"""The turn baseline for benchmarks/turns.py: the smallest Chainlit app that runs a
pydantic-ai agent and streams its reply, against the same loopback model as KripTik.

It has the same password login (any password), one agent built at import (no tools, no
history, no audit, no persistence) and `on_message` streaming the model's text. Where the
model is comes from BENCH_LLM_BASE_URL and BENCH_LLM_KEY (read here because this file is a
baseline, not part of the product).
"""

import os

import chainlit as cl
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

_provider = OpenAIProvider(
    base_url=os.environ["BENCH_LLM_BASE_URL"], api_key=os.environ["BENCH_LLM_KEY"]
)
agent = Agent(OpenAIChatModel("bench/echo", provider=_provider))


@cl.password_auth_callback
async def login(username: str, password: str) -> cl.User:
    return cl.User(identifier=username)


@cl.on_message
async def reply(message: cl.Message) -> None:
    answer = cl.Message(content="")
    async with agent.run_stream(message.content) as run:
        async for text in run.stream_text(delta=True):
            await answer.stream_token(text)
    await answer.send()
