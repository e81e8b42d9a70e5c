"""Fixtures for the chat UI tests: one app (fakes, scripted LLM, `kriptik serve`) per
module, started only by the modules that ask for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import App, running_app


@pytest.fixture(scope="module")
def chat_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    timeout = int(getattr(request.module, "ASK_TIMEOUT_S", 120))
    with running_app(tmp_path_factory.mktemp("chat") / "home", ask_timeout_s=timeout) as app:
        yield app
