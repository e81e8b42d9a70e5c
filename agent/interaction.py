"""The protocol the UI implements to answer questions and approvals in place.

The run loop calls it from inside the agent run (through pydantic-ai's deferred-tool
hook), so a question or an approval never ends the turn: the UI shows a password field or
an approve/deny card, awaits the person, and returns. Chainlit's context travels into
these calls, so `cl.AskElementMessage` and `cl.AskActionMessage` work there.

```python
class ChainlitInteraction:
    async def ask_secret(self, question: Question) -> SecretStr | None: ...   # None: cancelled
    async def ask_approval(self, approval: Approval) -> ApprovalDecision: ...
```

A secret is returned as `SecretStr` and goes straight to the vault; the model only learns
"RUNPOD_API_KEY stored". Where the user connected the account instead (OAuth, in the chat's
Connect card), the answer is the stored connection (`tools.connect.Connected`): nothing is
left to store, and the model learns the same placeholder. Tests and `kriptik chat` inject
scripted implementations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, SecretStr

from agent.events import Approval, Question

if TYPE_CHECKING:
    from tools.connect import Connected

__all__ = ["ApprovalDecision", "DeclineAll", "Interaction"]


class ApprovalDecision(BaseModel):
    approved: bool
    by: str
    note: str | None = None


class Interaction(Protocol):
    async def ask_secret(self, question: Question) -> SecretStr | Connected | None:
        """The key the user entered, the account they connected instead (already stored),
        or None if they cancelled (or cannot be asked)."""
        ...

    async def ask_approval(self, approval: Approval) -> ApprovalDecision:
        """The user's decision on a side effect, with who decided."""
        ...


class DeclineAll:
    """For a surface that cannot ask: every question is cancelled, every approval denied."""

    def __init__(self, *, who: str = "nobody", why: str = "this surface cannot ask") -> None:
        self._who = who
        self._why = why

    async def ask_secret(self, question: Question) -> SecretStr | None:
        return None

    async def ask_approval(self, approval: Approval) -> ApprovalDecision:
        return ApprovalDecision(approved=False, by=self._who, note=self._why)
