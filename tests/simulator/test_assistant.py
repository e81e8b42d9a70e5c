"""The simulated assistant on hand-written requests, in the wire shapes pydantic-ai sends:
what it reads in a request, and what it does with a tool list it is not offered."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tools.simulator._chat_transcript import find_repo, read_transcript
from tools.simulator.assistant import answer, app_name
from tools.simulator.llm import Reply

TOOLS = ["inspect_model", "estimate_vram", "choose_gpu", "check_credential", "request_api_key",
         "build_dockerfile", "get_deployment_status", "create_runpod_endpoint", "teardown"]  # fmt: skip


def _body(
    user: str, *steps: tuple[str, dict[str, Any], str], tools: list[str] = TOOLS
) -> dict[str, Any]:
    """A request: the system prompt, the user's message, then each (tool, args, result)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are KripTik."},
                                      {"role": "user", "content": user}]  # fmt: skip
    for n, (tool, args, result) in enumerate(steps):
        call = {"id": f"c{n}", "type": "function",
                "function": {"name": tool, "arguments": json.dumps(args)}}  # fmt: skip
        messages += [{"role": "assistant", "content": None, "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": f"c{n}", "content": result}]  # fmt: skip
    offered = [{"type": "function", "function": {"name": t, "parameters": {"type": "object"}}}
               for t in tools]  # fmt: skip
    return {"model": "kriptik-demo/assistant", "messages": messages, "tools": offered}


@pytest.mark.parametrize(
    ("text", "repo"),
    [
        ("Build a web app on tencent/HunyuanWorld-Voyager.", "tencent/HunyuanWorld-Voyager"),
        ("size https://huggingface.co/Qwen/Qwen2.5-7B-Instruct please", "Qwen/Qwen2.5-7B-Instruct"),
        ("see github.com/vllm-project/vllm and/or black-forest-labs/FLUX.1-dev", "black-forest-labs/FLUX.1-dev"),
        ("hello there", None),
    ],
)  # fmt: skip
def test_it_finds_the_repo_id(text: str, repo: str | None) -> None:
    assert find_repo(text) == repo


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Deploy Qwen/Qwen2.5-7B-Instruct as an API I can call.", "deploy"),
        ("Build a web app on tencent/HunyuanWorld-Voyager.", "app"),
        ("How much GPU memory does black-forest-labs/FLUX.1-dev need, and what would it cost?", "size"),
        ("tell me about org/model", "size"),
        ("tear it all down", "teardown"),
        ("hi", "help"),
    ],
)  # fmt: skip
def test_it_reads_what_the_user_wants(text: str, intent: str) -> None:
    assert read_transcript(_body(text)).intent == intent


def test_yes_continues_the_request_before_it() -> None:
    body = _body("Deploy Qwen/Qwen2.5-0.5B-Instruct as an API")
    body["messages"] += [{"role": "assistant", "content": "You declined."},
                         {"role": "user", "content": "ok, go ahead"}]  # fmt: skip
    t = read_transcript(body)
    assert (t.repo, t.intent, t.steps_this_turn) == ("Qwen/Qwen2.5-0.5B-Instruct", "deploy", 0)


def test_results_errors_and_denials_are_told_apart() -> None:
    t = read_transcript(_body(
        "Deploy org/m",
        ("check_credential", {"provider": "runpod"}, '{"provider": "runpod", "status": "missing"}'),
        ("request_api_key", {"provider": "runpod", "reason": "x"}, "RUNPOD_API_KEY stored"),
        ("inspect_model", {"repo_id": "org/m"}, '{"error": "no model org/m"}'),
        ("create_runpod_endpoint", {"repo_id": "org/m"}, "The user denied create_runpod_endpoint."),
    ))  # fmt: skip
    assert [(e.tool, e.outcome) for e in t.events] == [
        ("check_credential", "ok"), ("request_api_key", "ok"), ("inspect_model", "error"),
        ("create_runpod_endpoint", "denied"),
    ]  # fmt: skip
    assert t.events[0].data["status"] == "missing" and t.events[2].text == "no model org/m"


def test_a_repo_that_is_not_there_is_explained_not_retried() -> None:
    reply = answer(_body("Deploy org/nothing", ("inspect_model", {"repo_id": "org/nothing"},
                                                '{"error": "no model org/nothing on the Hub"}')))  # fmt: skip
    assert reply.calls == []
    assert reply.text == (
        "Reading org/nothing on Hugging Face did not work: no model org/nothing on the Hub. "
        "Nothing was created."
    )


def test_only_offered_tools_are_called() -> None:
    reply = answer(_body("Deploy org/m", tools=["estimate_vram"]))
    assert reply == Reply(text="I can't go on: the inspect_model tool is not available in this "
                               "chat, so I stopped here. Nothing more was done.")  # fmt: skip


def test_a_runaway_turn_stops() -> None:
    steps = [("check_credential", {"provider": "runpod"}, '{"error": "busy"}')] * 24
    reply = answer(_body("Deploy org/m", *steps))
    assert reply.calls == [] and "stopped here" in reply.text


def test_app_names_fit_a_repo_and_a_site() -> None:
    assert app_name("Qwen/Qwen2.5-0.5B-Instruct") == "qwen2-5-0-5b-instruct-app"
    assert app_name("tencent/HunyuanWorld-Voyager") == "hunyuanworld-voyager-app"
    assert len(app_name("o/" + "x" * 200)) <= 63
