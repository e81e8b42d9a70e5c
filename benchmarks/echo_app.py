"""The baseline for benchmarks/chat.py: a bare Chainlit app that echoes each message, with
the same password login (any password) and nothing else."""

import chainlit as cl


@cl.password_auth_callback
async def login(username: str, password: str) -> cl.User:
    return cl.User(identifier=username)


@cl.on_message
async def echo(message: cl.Message) -> None:
    await cl.Message(content=message.content).send()
