"""The typed events a chat turn yields to the UI. The UI renders them; it never sees
pydantic-ai's own event types."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class TextDelta(BaseModel):
    kind: Literal["text"] = "text"
    text: str


class Notice(BaseModel):
    """Something the user must act on before the agent can help (e.g. no LLM key yet)."""

    kind: Literal["notice"] = "notice"
    text: str


class Final(BaseModel):
    kind: Literal["final"] = "final"
    text: str


UIEvent = TextDelta | Notice | Final
