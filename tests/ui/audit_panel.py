"""What the /audit panel shows, captured: Chainlit's message and elements replaced by plain
dicts, so a test reads the rows and downloads a user would see."""

from __future__ import annotations

from typing import Any

import pytest


def capture_audit_panel(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The elements `ui.web.reports` sends from now on (each a dict of its arguments)."""
    from ui.web import reports

    shown: list[dict[str, Any]] = []

    class Message:
        def __init__(self, content: str, elements: list[Any]) -> None:
            self.elements = elements

        async def send(self) -> None:
            shown.extend(e for e in self.elements if isinstance(e, dict))

    monkeypatch.setattr(reports.cl, "Message", Message)
    monkeypatch.setattr(reports.cl, "CustomElement", lambda **kw: kw)
    monkeypatch.setattr(reports.cl, "File", lambda **kw: {"file": kw["name"]})
    return shown
