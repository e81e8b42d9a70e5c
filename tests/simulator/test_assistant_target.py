"""The simulated assistant deploys where the user's message says: a message that names
Hugging Face (Inference Endpoints) or Google Cloud Run makes the create call pass that
target (the target's own catalog picks the GPU), skips RunPod's key, and the closing
message names the target; a message that names none deploys on RunPod as before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tools.simulator._assistant_words import deploy_done, target_named
from tools.simulator.assistant import answer

REPO = "kriptik-test/tiny-llama"
TOOLS = ["inspect_model", "estimate_vram", "choose_gpu", "check_credential", "request_api_key",
         "build_dockerfile", "get_deployment_status", "create_runpod_endpoint", "teardown"]  # fmt: skip
MODEL = {"repo_id": REPO, "task": "text-generation", "parameters_billion": 0.01,
         "weights_gb": 0.02, "weight_format": "safetensors", "license": "apache-2.0"}  # fmt: skip
VRAM = {"dtype": "bf16", "basis": "transformer", "total_gb": 1.2, "context_tokens": 4096}
GPU = {"fits": True, "pool": "AMPERE_16", "gpu_count": 1, "usd_per_hour_running": 0.58}
WORKER = {"repo_id": REPO, "kind": "vllm", "needs_build": False}


def _body(user: str, *steps: tuple[str, dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are KripTik."},
                                      {"role": "user", "content": user}]  # fmt: skip
    for n, (tool, args, result) in enumerate(steps):
        call = {"id": f"c{n}", "type": "function",
                "function": {"name": tool, "arguments": json.dumps(args)}}  # fmt: skip
        messages += [{"role": "assistant", "content": None, "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": f"c{n}", "content": json.dumps(result)}]  # fmt: skip
    offered = [{"type": "function", "function": {"name": t, "parameters": {"type": "object"}}}
               for t in TOOLS]  # fmt: skip
    return {"model": "kriptik-demo/assistant", "messages": messages, "tools": offered}


def _sized(user: str) -> dict[str, Any]:
    """A request whose model is inspected, sized and prepared: next is the create call."""
    return _body(
        user, ("inspect_model", {"repo_id": REPO}, MODEL),
        ("check_credential", {"provider": "runpod"}, {"provider": "runpod", "status": "valid"}),
        ("estimate_vram", {"repo_id": REPO, "dtype": "bf16", "context_tokens": 4096}, VRAM),
        ("choose_gpu", {"repo_id": REPO, "dtype": "bf16", "context_tokens": 4096}, GPU),
        ("build_dockerfile", {"repo_id": REPO}, WORKER),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "target"),
    [
        (f"Deploy {REPO} on Hugging Face", "huggingface"),
        (f"Deploy {REPO} with Hugging Face Inference Endpoints", "huggingface"),
        (f"Deploy {REPO} to Google Cloud Run", "cloudrun"),
        (f"Deploy {REPO} on GCP please", "cloudrun"),
    ],
)
def test_the_create_call_passes_the_target_the_message_names(text: str, target: str) -> None:
    reply = answer(_sized(text))
    [(tool, args)] = reply.calls
    assert tool == "create_runpod_endpoint"
    assert args == {"repo_id": REPO, "pool": "auto", "gpu_count": 1, "workers_min": 0,
                    "workers_max": 1, "target": target}  # fmt: skip
    assert "as you asked" in reply.text and "Approve the card" in reply.text


def test_a_message_naming_no_target_deploys_on_runpod_as_before() -> None:
    reply = answer(_sized(f"Deploy {REPO} as an API"))
    [(tool, args)] = reply.calls
    assert tool == "create_runpod_endpoint" and "target" not in args
    assert args["pool"] == "AMPERE_16" and "RunPod's prebuilt vLLM image" in reply.text


def test_another_target_needs_no_runpod_key() -> None:
    first = answer(_body(f"Deploy {REPO} on Hugging Face"))
    assert first.calls == [("inspect_model", {"repo_id": REPO})]  # no RunPod key check
    runpod = answer(_body(f"Deploy {REPO}"))
    assert ("check_credential", {"provider": "runpod"}) in runpod.calls


def test_yes_keeps_the_target_of_the_earlier_create_call() -> None:
    body = _sized(f"Deploy {REPO} to Google Cloud Run")
    create = {"repo_id": REPO, "pool": "auto", "gpu_count": 1, "workers_min": 0,
              "workers_max": 1, "target": "cloudrun"}  # fmt: skip
    call = {"id": "c9", "type": "function",
            "function": {"name": "create_runpod_endpoint", "arguments": json.dumps(create)}}  # fmt: skip
    body["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": "c9",
            "content": "The user denied create_runpod_endpoint.",
        },
        {"role": "assistant", "content": "You declined."},
        {"role": "user", "content": "ok, go ahead"},
    ]
    [(_, args)] = answer(body).calls
    assert args["target"] == "cloudrun"


def test_words_name_the_target() -> None:
    assert target_named("Deploy this Hugging Face model org/m") is None  # where it lives
    assert target_named("deploy org/m on runpod") == "runpod"
    report = {"target": "huggingface", "endpoint_id": "kt-dep-1", "deployment_id": "dep-1",
              "pool": "aws/us-east-1/nvidia-t4/x1", "urls": {"base": "https://x.example"},
              "usd_per_hour_per_worker": 0.5}  # fmt: skip
    text = deploy_done(report, REPO)
    assert f"{REPO} is live on Hugging Face Inference Endpoints." in text
    assert "- URL: https://x.example" in text and "OpenAI client" not in text
