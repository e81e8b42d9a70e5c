"""`kriptik chat --fake-llm SCRIPT`: a scripted conversation in the terminal, for development.

The model is scripted (no LLM is called) and every provider is a loopback fake from the
source checkout's `tools/simulator`, so the whole agent runs for real (tools, questions,
approvals, audit, history) with nothing leaving the machine. Events print as they happen.
A fresh vault in a temporary directory is used unless `--home` names one.

SCRIPT is JSON:

    {"turns": [{"user": "Deploy kriptik-test/tiny-llama",
                "model": [{"tool": "inspect_model", "args": {"repo_id": "..."}},
                          [{"tool": "a", "args": {}}, {"tool": "b", "args": {}}],
                          {"text": "Here is the plan..."}]}],
     "answers": {"keys": {"runpod": "fake"}, "approvals": [true]}}

A key "fake" is the provider fake's own valid key; null cancels the question. Approvals
not in the script are asked at the terminal (denied when stdin is not a terminal).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from ui.cli.console import run_command, say, warn

if TYPE_CHECKING:
    from collections.abc import Iterator

    from agent import Approval, ApprovalDecision, Question
    from agent.scripted import Step
    from tools.simulator.all import FakeStack
    from ui.cli import Subparsers
    from ui.root import Root
    from vault import UserView


def _fake_keys() -> dict[str, str]:
    """The provider fakes' own valid keys, for `"keys": {"runpod": "fake"}` in a script."""
    from tools.simulator import github, huggingface, netlify, openrouter, runpod, vercel

    return {
        "openrouter": openrouter.DEFAULT_KEY,
        "huggingface": huggingface.DEFAULT_TOKEN,
        "runpod": runpod.DEFAULT_KEY,
        "github": github.DEFAULT_TOKEN,
        "vercel": vercel.DEFAULT_TOKEN,
        "netlify": netlify.DEFAULT_TOKEN,
    }


def _source_fakes() -> type[FakeStack]:
    """`tools.simulator.all.FakeStack` from this source checkout."""
    from tools.simulator.all import FakeStack

    return FakeStack


def _new_key() -> SecretStr:
    return SecretStr(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())


def register(subparsers: Subparsers) -> None:
    chat = subparsers.add_parser(
        "chat", help="run a scripted conversation against the provider fakes (development)"
    )
    chat.add_argument(
        "--fake-llm", required=True, type=Path, metavar="SCRIPT", help="the JSON script to play"
    )
    chat.add_argument("--home", type=Path, help="use this KripTik home instead of a temporary one")
    chat.set_defaults(handler=_chat)


def _steps(raw: list[Any]) -> list[Step]:
    from agent.scripted import Call, Reply

    steps: list[Step] = []
    for item in raw:
        if isinstance(item, list):
            steps.append([Call.model_validate(call) for call in item])  # pyright: ignore[reportUnknownVariableType]
        elif "text" in item:
            steps.append(Reply.model_validate(item))
        else:
            steps.append(Call.model_validate(item))
    return steps


def _chat(args: argparse.Namespace) -> int:
    try:
        script = json.loads(args.fake_llm.read_text(encoding="utf-8"))
        turns = [(str(t["user"]), _steps(t.get("model", []))) for t in script["turns"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        warn(f"error: cannot read the script {args.fake_llm}: {error}")
        return 2
    try:
        fake_stack = _source_fakes()
    except ImportError:
        warn("error: `kriptik chat --fake-llm` needs a source checkout (it uses tools/simulator)")
        return 2
    answers: dict[str, Any] = script.get("answers") or {}
    stack = fake_stack().start()
    try:
        return int(run_command(lambda: _play(stack, turns, answers, args.home)))
    finally:
        stack.stop()


class _TerminalInteraction:
    """Keys from the script ("fake": the fake's own key); approvals from the script, else
    asked at the terminal (denied when stdin is not one)."""

    def __init__(self, keys: dict[str, str | None], approvals: list[bool], who: str) -> None:
        self._keys, self._approvals, self._who = keys, approvals, who

    async def ask_secret(self, question: Question) -> SecretStr | None:
        key = self._keys.get(question.provider)
        if key is None:
            return None
        return SecretStr(_fake_keys().get(question.provider, key) if key == "fake" else key)

    def source(self, provider: str) -> str:
        return (
            "entered from the script"
            if self._keys.get(provider)
            else "cancelled: none in the script"
        )

    async def ask_approval(self, approval: Approval) -> ApprovalDecision:
        from agent.interaction import ApprovalDecision

        if self._approvals:
            approved = self._approvals.pop(0)
        elif sys.stdin.isatty():
            prompt = f"  approve {approval.tool}? [y/N] "
            approved = (await asyncio.to_thread(input, prompt)).strip().lower() == "y"
        else:
            approved = False
        return ApprovalDecision(approved=approved, by=self._who)


async def _play(
    stack: FakeStack,
    turns: list[tuple[str, list[Step]]],
    answers: dict[str, Any],
    home: Path | None,
) -> int:
    import tempfile

    from tools.simulator.edge import WebEdge
    from ui.root import Substitutes, opened_root
    from vault import get_settings

    with tempfile.TemporaryDirectory(prefix="kriptik-chat-") as scratch:
        fields: dict[str, Any] = stack.settings_fields() | {"http_timeout_s": 5.0}
        if home is None:
            fields |= {"home": Path(scratch), "database_url": None, "master_key": _new_key()}
        settings = get_settings().model_copy(update=fields)
        # The simulated web hosts answer the app check; nothing else leaves loopback. No
        # image builder or registry: a generated worker says no Docker engine is set up.
        substitutes = Substitutes(transport=WebEdge(stack))
        async with opened_root(settings, substitutes=substitutes) as root:
            user = await root.vault.users.get("dev") or await root.vault.users.create(
                "dev", SecretStr(secrets.token_urlsafe(24))
            )
            talk = _TerminalInteraction(
                answers.get("keys") or {}, list(answers.get("approvals") or []), user.name
            )
            # The durable pipeline runs here, so a scripted deploy really deploys (a
            # vLLM worker needs no image).
            await root.launch_pipeline()
            return await _converse(root, user, talk, turns)


async def _converse(
    root: Root, user: UserView, talk: _TerminalInteraction, turns: list[tuple[str, list[Step]]]
) -> int:
    from agent.scripted import ScriptedModel
    from tools.credentials import Limiter
    from ui.cli.headless import play

    model = ScriptedModel([])
    ctx = root.turn(
        user_id=user.id, user_name=user.name, thread_id=f"chat-{secrets.token_hex(4)}",
        interaction=talk, scripted=model,
        # Scripted answers come faster than people: this session's own key-check
        # limiter, with no window (the process-wide one is left as it is).
        limiter=Limiter(window_s=0.0),
    )  # fmt: skip

    def texts() -> Iterator[str]:
        for text, steps in turns:
            model.extend(steps)  # the model's replies to this turn, once the last is over
            yield text

    say(f"thread {ctx.thread_id}; providers are loopback fakes; the model is scripted")
    key_source = {p: talk.source(p) for p in _fake_keys()}
    return await play(ctx, root.deployments, texts(), key_source=key_source)
