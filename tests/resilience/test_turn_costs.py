"""What one chat turn costs the server, counted rather than timed (timings live in
benchmarks/: `uv run python -m benchmarks.agent --profile`)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic_ai.models import Model

from agent.llm import ChatModels
from vault import Settings


async def test_turns_reuse_one_tls_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    create = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(args)
        return create(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    settings = Settings(home=tmp_path, llm_base_url="http://127.0.0.1:9/v1")
    chat = ChatModels()
    for _ in range(3):
        async with chat.open(settings, SecretStr("sk-local-not-needed")):
            pass
    assert len(made) <= 1, f"{len(made)} TLS contexts for 3 turns"
    await chat.close()


async def test_each_key_gets_its_own_client_and_no_key_is_printed(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, llm_base_url="http://127.0.0.1:9/v1")
    keys = ("sk-local-first-key-0000000000", "sk-local-other-key-1111111111")
    chat = ChatModels()
    models: list[Model] = []
    for key in (*keys, keys[0]):
        async with chat.open(settings, SecretStr(key)) as model:
            models.append(model)
    assert models[0] is models[2], "the same key and settings reuse one model"
    assert models[0] is not models[1], "another key gets its own client"
    shown = repr(chat) + str(vars(chat))
    assert not any(key in shown for key in keys)
    await chat.close()
    async with chat.open(settings, SecretStr(keys[0])) as model:
        assert model is not models[0], "closed models are not handed out again"
    await chat.close()
