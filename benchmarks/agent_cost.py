"""The agent's own LLM cost per deploy turn: today's against now, measured in the same run.

    uv run python -m benchmarks.agent_cost

One deploy turn ("Deploy Qwen/Qwen2.5-0.5B-Instruct as an API": inspect, size, keys, the
endpoint, the GitHub repo and the Vercel app, each behind its approval) is played three
times by the REAL agent (`run_turn`: hooks, approvals, audit, the DBOS pipeline) against
the simulator, through the product's own model path (Settings -> `OpenRouterModel` -> the
`openai` SDK) to the simulated assistant, which answers as `anthropic/claude-sonnet-4.5`
would be billed by OpenRouter: usage with `cached_tokens` and `cache_write_tokens` from its
prompt cache, priced from the simulated OpenRouter catalogue (tools/simulator/llm.py).

- today: prompt caching off, and the system prompt and tool schemas as they were before
  they were trimmed (kept in `benchmarks/agent_baseline/`: the prompts, and the tool
  schemas as the wire carried them), put in place of the current ones on the way to the
  fake, so the model reads exactly what it read then;
- caching only: caching on, the old prompt and schemas;
- now: caching on, the current prompt and schemas.

The dollars are what the turn's usage reports (OpenRouter's `cost` of each response, summed
by the agent), output included. "of which input" leaves the output tokens out: they are the
same in every run (the simulated assistant says the same), and caching and trimming can
only change the input side. The happy path must be the same in every run (the same tools,
in the same order, with the same outcomes, and the turn done); the exit status is 1 if it
is not, or if now's dollars per deploy turn are above `TARGET` of today's.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import SecretStr
from pydantic_ai.models import override_allow_model_requests

from agent import (
    Approval,
    ApprovalDecision,
    Final,
    Question,
    ToolFinished,
    ToolStarted,
    UIEvent,
    run_turn,
)  # fmt: skip
from benchmarks._measure import table
from tools.credentials import Limiter
from tools.simulator.demo import DemoStack
from tools.simulator.llm import prices_of
from tools.simulator.server import ServedApp
from ui.cli.demo import demo_settings, demo_substitutes
from ui.root import opened_root

__all__ = ["DEPLOY", "MODEL", "TARGET", "Figures", "main", "measure"]

DEPLOY = "Deploy Qwen/Qwen2.5-0.5B-Instruct as an API"
MODEL = "anthropic/claude-sonnet-4.5"  # the default model, with explicit breakpoints
TARGET = 0.30  # now's dollars per deploy turn, at most this share of today's
CHAT = "POST /api/v1/chat/completions"
BASELINE = Path(__file__).resolve().parent / "agent_baseline"
USER = "bench"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Figures:
    """One deploy turn's model use, as its usage reported it, and what it did."""

    requests: int
    input_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    output_tokens: int
    usd: float
    prefix_bytes: int  # the first request's instructions and tool schemas, as sent
    prefixes_identical: bool  # every request of the turn began with the same bytes
    path: tuple[tuple[str, str], ...]  # (tool, outcome) of every call, in the order made
    status: str

    @property
    def hit_rate(self) -> float:
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0


def _baseline_system() -> str:
    """The system prompt as it was, rendered as the agent renders its own."""
    env = Environment(loader=FileSystemLoader(BASELINE / "prompts"), undefined=StrictUndefined,
                      keep_trailing_newline=True, autoescape=False)  # noqa: S701  # fmt: skip
    today = datetime.now(UTC).date().isoformat()
    return env.get_template("system.md").render(user_name=USER, today=today)


def _marker(block: dict[str, Any]) -> dict[str, Any]:
    return {"cache_control": block["cache_control"]} if "cache_control" in block else {}


class Untrimmed:
    """An ASGI wrapper in front of the LLM fake: each chat request's instructions and tool
    schemas replaced by the old ones (`agent_baseline/`), as the agent sent them then."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.system = _baseline_system()
        self.tools: list[dict[str, Any]] = json.loads((BASELINE / "tools.json").read_text())

    def _rewrite(self, body: dict[str, Any]) -> dict[str, Any]:
        """The old text in the new request's places, its breakpoints kept where they were."""
        old = {t["function"]["name"]: t for t in self.tools}
        # The same tools in the same order; a tool added since (compare_targets) did not
        # exist then, so today's request goes without it.
        tools = [dict(old[t["function"]["name"]], **_marker(t))
                 for t in body.get("tools", []) if t["function"]["name"] in old]  # fmt: skip
        body["tools"] = tools
        messages = body["messages"]
        if messages and messages[0]["role"] == "system":
            content = messages[0]["content"]
            marker = _marker(content[-1]) if isinstance(content, list) and content else {}
            text = {"type": "text", "text": self.system, **marker}
            messages[0] = {"role": "system", "content": [text] if marker else self.system}
        return body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            await self.app(scope, receive, send)
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        data = json.dumps(self._rewrite(json.loads(raw))).encode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        scope = {**scope, "headers": [*headers, (b"content-length", str(len(data)).encode())]}

        async def replay() -> Message:
            return {"type": "http.request", "body": data, "more_body": False}

        await self.app(scope, replay, send)


class _Yes:
    """Key questions answered with the simulator's keys, every approval given."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    async def ask_secret(self, question: Question) -> SecretStr | None:
        key = self.keys.get(question.provider)
        return SecretStr(key) if key is not None else None

    async def ask_approval(self, approval: Approval) -> ApprovalDecision:
        return ApprovalDecision(approved=True, by=USER)


def _prefix(body: dict[str, Any]) -> bytes:
    system = [m for m in body["messages"] if m["role"] in ("system", "developer")]
    return json.dumps([system, body.get("tools", [])], separators=(",", ":")).encode()


def _path(events: list[UIEvent]) -> tuple[tuple[str, str], ...]:
    """(tool, outcome) of every call in the order the model made them (calls made together
    may finish in either order)."""
    outcomes = {e.tool_call_id: e.outcome for e in events if isinstance(e, ToolFinished)}
    return tuple((e.tool, outcomes.get(e.tool_call_id, "unfinished"))
                 for e in events if isinstance(e, ToolStarted))  # fmt: skip


async def measure(*, caching: bool, trimmed: bool) -> Figures:
    """Play the deploy turn once on a fresh simulator and vault; what its usage reported."""
    stack = DemoStack().start()
    front = None if trimmed else ServedApp(Untrimmed(stack.llm))
    substitutes, stop_registry = demo_substitutes(stack)
    try:
        with tempfile.TemporaryDirectory(prefix="kriptik-bench-") as home:
            settings = demo_settings(stack, Path(home)).model_copy(update={
                "model": MODEL, "llm_prompt_caching": caching,
                **({"openrouter_base_url": f"{front.url}/api/v1"} if front else {}),
            })  # fmt: skip
            async with opened_root(settings, substitutes=substitutes) as root:
                user = await root.vault.users.create(USER, SecretStr(secrets.token_urlsafe(24)))
                await root.launch_pipeline()
                ctx = root.turn(user_id=user.id, user_name=USER, thread_id="bench-deploy",
                                interaction=_Yes(stack.keys),
                                limiter=Limiter(window_s=0.0))  # fmt: skip
                with override_allow_model_requests(True):  # to the loopback fake only
                    events = [event async for event in run_turn(ctx, DEPLOY)]
    finally:
        stop_registry()
        if front is not None:
            front.stop()
        stack.stop()
    final = events[-1]
    assert isinstance(final, Final)
    bodies = [call.json() for call in stack.llm.calls_to(CHAT)]
    u = final.usage
    return Figures(
        requests=u.requests, input_tokens=u.input_tokens, cached_tokens=u.cached_tokens,
        cache_write_tokens=u.cache_write_tokens, output_tokens=u.output_tokens, usd=u.cost_usd,
        prefix_bytes=len(_prefix(bodies[0])),
        prefixes_identical=len({_prefix(b) for b in bodies}) == 1,
        path=_path(events),
        status=final.status,
    )  # fmt: skip


_OUTPUT_USD = prices_of(MODEL).completion  # the output's share is the same in every run


def _rows(runs: dict[str, Figures]) -> list[list[str]]:
    today = runs["today"]

    def row(name: str, value: Callable[[Figures], float], fmt: str) -> list[str]:
        cells = [format(value(f), fmt) for f in runs.values()]
        base = value(today)
        ratio = f"{value(runs['now']) / base:.2f}" if base else "-"
        return [name, *cells, ratio]

    return [
        row("model requests", lambda f: f.requests, ",d"),
        row("input tokens", lambda f: f.input_tokens, ",d"),
        row("cached tokens (read)", lambda f: f.cached_tokens, ",d"),
        ["cache hit rate", *(f"{f.hit_rate:.0%}" for f in runs.values()), "-"],
        row("cache write tokens", lambda f: f.cache_write_tokens, ",d"),
        row("output tokens", lambda f: f.output_tokens, ",d"),
        row("fixed prefix bytes", lambda f: f.prefix_bytes, ",d"),
        row("$ per deploy turn", lambda f: f.usd, ".4f"),
        row("  of which input", lambda f: f.usd - f.output_tokens * _OUTPUT_USD, ".4f"),
    ]


async def main() -> int:
    """Print the comparison; 1 if the happy path changed or the target was missed."""
    runs = {
        "today": await measure(caching=False, trimmed=False),
        "caching only": await measure(caching=True, trimmed=False),
        "now": await measure(caching=True, trimmed=True),
    }
    p = prices_of(MODEL)
    print(f'One deploy turn, "{DEPLOY}", real agent against the simulated assistant, billed as '
          f"{MODEL} on OpenRouter (per million tokens: ${p.prompt * 1e6:g} input, "
          f"${p.cache_read * 1e6:g} cache read, ${p.cache_write * 1e6:g} cache write, "
          f"${p.completion * 1e6:g} output)\n")  # fmt: skip
    print(table(_rows(runs), ["", *runs, "now / today"]))
    now, today = runs["now"], runs["today"]
    share = now.usd / today.usd
    inputs = (now.usd - now.output_tokens * _OUTPUT_USD) / (
        today.usd - today.output_tokens * _OUTPUT_USD
    )
    same = len({(f.path, f.status) for f in runs.values()}) == 1 and today.status == "done"
    print(f"\n$ per deploy turn: {share:.1%} of today's (target: at most {TARGET:.0%}); "
          f"input side alone: {inputs:.1%}; "
          f"happy path {'the same' if same else 'CHANGED'} in every run "
          f"({len(now.path)} tool calls, turn {now.status}); every request of a turn began "
          f"with the same bytes: {now.prefixes_identical}")  # fmt: skip
    if not same:
        for name, f in runs.items():
            print(f"  {name}: {f.status} {list(f.path)}")
    return 0 if same and share <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
