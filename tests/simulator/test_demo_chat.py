"""The REAL agent (run_turn: hooks, approvals, key questions, audit, the DBOS pipeline)
chatting over HTTP with the simulated assistant of `kriptik demo`, through the product's
own model path (Settings -> OpenRouterModel -> the openai SDK), against the provider
simulator. Nothing is scripted: the assistant reads the tool results it gets back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema
from pydantic import SecretStr

from agent.events import AppLive, Approval, Question
from tests.simulator.conftest import Turn, World
from tools.simulator.assistant import answer
from tools.simulator.demo import DemoStack

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
FLUX = "black-forest-labs/FLUX.1-dev"
CHAT = "POST /api/v1/chat/completions"


def _sent(demo: DemoStack) -> list[dict[str, Any]]:
    """Every chat request body the app sent to the simulated assistant."""
    return [call.json() for call in demo.llm.calls_to(CHAT)]


def _results(body: dict[str, Any], tool: str) -> list[Any]:
    """What `tool` returned, as the request carried it to the model."""
    names = {c["id"]: c["function"]["name"] for m in body["messages"]
             for c in m.get("tool_calls") or []}  # fmt: skip
    return [json.loads(m["content"]) for m in body["messages"]
            if m["role"] == "tool" and names.get(m["tool_call_id"]) == tool]  # fmt: skip


def _check_replies(demo: DemoStack) -> None:
    """Each reply the app got is the assistant's pure answer to its request: the same
    again, calling only offered tools, with arguments valid against their schemas."""
    for body in _sent(demo):
        reply = answer(body)
        assert reply == answer(body)
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in body["tools"]}
        for name, args in reply.calls:
            jsonschema.validate(args, schemas[name])


def _no_key_in_chat(demo: DemoStack) -> None:
    sent = "\n".join(call.body.decode() for call in demo.llm.calls_to(CHAT))
    assert all(key not in sent for key in demo.keys.values())


async def test_deploy_qwen_as_an_api_end_to_end(world: World) -> None:
    demo = world.demo
    keys = demo.keys
    turn = await world.turn(
        f"Deploy {QWEN} as an API",
        secrets=[keys["runpod"], keys["github"], keys["vercel"]],
        approvals=[True, True, True],
    )

    assert turn.final.status == "done", turn.transcript()
    [endpoint_id] = demo.providers.runpod.state.endpoints
    # The deploy's summary is shown as it is (AppLive); the model ends with one line.
    [live] = turn.of(AppLive)
    assert f"/v2/{endpoint_id}" in live.summary and "is live" in live.summary
    assert "kriptik deployments teardown" in live.summary and "$0.58/h" in live.summary
    text = turn.final.text
    assert live.summary not in text and "check failed" in text
    assert sorted(turn.tools[:2]) == [("check_credential", "success"), ("inspect_model", "success")]
    assert turn.tools[2:] == [
        ("request_api_key", "success"), ("estimate_vram", "success"), ("choose_gpu", "success"),
        ("build_dockerfile", "success"), ("create_runpod_endpoint", "success"),
        ("check_credential", "success"), ("check_credential", "success"),
        ("request_api_key", "success"), ("request_api_key", "success"),
        ("push_to_github", "success"), ("deploy_vercel", "success"),
    ]  # fmt: skip
    # The API first, then a small web app in front of it, each step behind its own card.
    assert [q.provider for q in turn.of(Question)] == ["runpod", "github", "vercel"]
    card, *web_cards = turn.of(Approval)
    assert card.tool == "create_runpod_endpoint" and "nothing while idle" in card.price
    assert [c.tool for c in web_cards] == ["push_to_github", "deploy_vercel"]
    [web] = _results(_sent(demo)[-1], "deploy_vercel")
    assert web["url"] in live.summary
    # The VRAM it explained is the estimate it was sent.
    [estimate] = _results(_sent(demo)[-1], "estimate_vram")
    assert f"about {estimate['total_gb']:.1f} GB of GPU memory" in text
    # OpenRouter-style usage: every request priced, the turn's cost known.
    usage = turn.final.usage
    assert usage.cost_known and usage.cost_usd > 0 and usage.input_tokens > usage.output_tokens
    _check_replies(demo)
    _no_key_in_chat(demo)


async def test_the_sizing_question_answers_without_deploying(world: World) -> None:
    demo = world.demo
    question = f"How much GPU memory does {FLUX} need, and what would it cost?"
    turn = await world.turn(question, secrets=[demo.keys["huggingface"]])

    assert turn.final.status == "done", turn.transcript()
    # FLUX.1-dev is gated, as on the Hub: the assistant asks for a Hugging Face token.
    assert [q.provider for q in turn.of(Question)] == ["huggingface"]
    assert ("inspect_model", "failed") in turn.tools and not turn.of(Approval)
    assert {t for t, _ in turn.tools} <= {"inspect_model", "check_credential", "request_api_key",
                                          "estimate_vram", "choose_gpu"}  # fmt: skip
    assert not demo.providers.runpod.state.endpoints and not demo.providers.runpod.state.templates
    last = _sent(demo)[-1]
    [estimate], [gpu] = _results(last, "estimate_vram"), _results(last, "choose_gpu")
    text = turn.final.text
    assert f"about {estimate['total_gb']:.1f} GB of GPU memory" in text
    assert f"{estimate['weights_gb']:.1f} GB of weights" in text
    assert f"holds it is {gpu['pool']}: ${gpu['usd_per_hour_running']:.2f}/h" in text
    assert "Nothing was created" in text
    _check_replies(demo)


async def test_a_denied_approval_creates_nothing_and_says_so(world: World) -> None:
    demo = world.demo
    turn = await world.turn(
        f"Deploy {QWEN} as an API", secrets=[demo.keys["runpod"]], approvals=[False]
    )

    assert turn.final.status == "done"
    assert turn.tools[-1] == ("create_runpod_endpoint", "denied")
    state = demo.providers.runpod.state
    assert not state.endpoints and not state.templates
    assert not demo.providers.runpod.calls_to("POST /v2/serverless")
    text = turn.final.text.split("\n\n")[-1]
    assert "You declined, so I did not create the endpoint" in text
    assert "Nothing was created at RunPod" in text and "is live" not in turn.final.text


async def test_an_endpoint_create_that_fails_is_reported_as_a_failure(world: World) -> None:
    demo = world.demo
    demo.providers.runpod.fail("POST /v2/serverless", 500, times=None)
    turn = await world.turn(
        f"Deploy {QWEN} as an API", secrets=[demo.keys["runpod"]], approvals=[True]
    )

    assert turn.final.status == "done"
    assert not demo.providers.runpod.state.endpoints
    assert demo.providers.runpod.calls_to("POST /v2/serverless")[0].status == 500
    [report] = _results(_sent(demo)[-1], "create_runpod_endpoint")
    assert report["state"] == "failed" and report["endpoint_id"] is None
    last = turn.final.text.split("\n\n")[-1]
    assert last.startswith(f"The deployment of {QWEN} did not come up (failed)")
    assert "is live" not in turn.final.text and "Endpoint id" not in turn.final.text


async def test_a_cancelled_key_question_stops_with_what_to_do(world: World) -> None:
    turn = await world.turn(f"Deploy {QWEN} as an API", secrets=[None])

    assert turn.tools[-1] == ("request_api_key", "failed")
    text = turn.final.text.split("\n\n")[-1]
    assert text.startswith("Without a RunPod API key I can't create the endpoint")
    assert "`kriptik keys add runpod`" in text
    assert not world.demo.providers.runpod.state.templates


async def test_a_web_app_is_published_and_its_failed_check_is_not_hidden(world: World) -> None:
    demo, keys = world.demo, world.demo.keys
    turn = await world.turn(
        f"Build a web app on {QWEN}",
        secrets=[keys["runpod"], keys["github"], keys["vercel"]],
        approvals=[True, True, True],
    )

    assert [a.tool for a in turn.of(Approval)] == [
        "create_runpod_endpoint",
        "push_to_github",
        "deploy_vercel",
    ]
    assert [q.provider for q in turn.of(Question)] == ["runpod", "github", "vercel"]
    [endpoint_id] = demo.providers.runpod.state.endpoints
    [(owner, name)] = demo.providers.github.repos
    assert name == "qwen2-5-0-5b-instruct-app"
    [web] = _results(_sent(demo)[-1], "deploy_vercel")
    text = turn.final.text
    # The public app URL is not reachable from here, so its check fails, and it says so.
    assert not web["check"]["passed"]
    assert "check failed" in text and "Your app is live" not in text
    assert "is not reachable" in web["check"]["why"] and web["check"]["why"] in text
    [live] = turn.of(AppLive)
    assert f"/{owner}/{name}" in live.summary and endpoint_id in live.summary
    assert "integration check failed" in live.summary
    _check_replies(demo)
    _no_key_in_chat(demo)


async def test_one_server_serves_two_users_at_once(world: World) -> None:
    other = await world.vault.users.create("bob", SecretStr("another long passphrase"))
    keys = world.demo.keys
    deploy, size = await asyncio.gather(
        world.turn(
            f"Deploy {QWEN} as an API", secrets=[keys["runpod"]], approvals=[True], thread="a"
        ),
        world.turn(
            "How much GPU does Qwen/Qwen2.5-7B-Instruct need?", thread="b", user_id=other.id
        ),
    )
    assert isinstance(deploy, Turn) and isinstance(size, Turn)
    [endpoint_id] = world.demo.providers.runpod.state.endpoints
    assert endpoint_id in deploy.final.text and endpoint_id not in size.final.text
    assert "Qwen/Qwen2.5-7B-Instruct is a 7.62B-parameter" in size.final.text
    assert "AMPERE_24" in size.final.text and not size.of(Approval)
