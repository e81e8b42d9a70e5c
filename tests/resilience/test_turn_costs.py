"""What one chat turn costs the server, counted rather than timed (timings live in
benchmarks/: `uv run python -m benchmarks.agent --profile`)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agent.llm import open_model
from vault import Settings


@pytest.mark.xfail(
    strict=True,
    reason="agent/llm.py open_model: every turn builds a new AsyncOpenAI client, and with it "
    "a new TLS context (ssl.create_default_context + load_verify_locations, ~30 ms of CPU: "
    "40% of a turn against a model that answers at once, benchmarks/agent.py --profile). "
    "Keep one client per base URL and key (or pass a shared http_client).",
)
async def test_turns_reuse_one_tls_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    create = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(args)
        return create(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    settings = Settings(home=tmp_path, llm_base_url="http://127.0.0.1:9/v1")
    for _ in range(3):
        async with open_model(settings, SecretStr("sk-local-not-needed")):
            pass
    assert len(made) <= 1, f"{len(made)} TLS contexts for 3 turns"
