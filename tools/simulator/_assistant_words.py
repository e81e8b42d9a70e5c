"""What the simulated assistant says: short, concrete sentences built from the real
numbers and ids in the tool results it read (never invented), and plain next steps when
something did not work."""

from __future__ import annotations

import re
from typing import Any, Final

from tools.simulator._chat_transcript import as_dict, as_list

__all__ = [
    "HELP", "OPENING", "SERVABLE", "TARGET_TITLES", "denied", "deploy_done", "failed", "gpu_line",
    "model_line", "price_line", "sizing_answer", "target_named", "target_opening",
    "target_price_line", "vram_line",
]  # fmt: skip

HELP: Final = (
    "Tell me which Hugging Face model to work with, as owner/name (for example "
    "Qwen/Qwen2.5-7B-Instruct), and what you would like: how much GPU memory it needs and "
    "what it costs, an API endpoint on RunPod, or a small web app on top of that endpoint."
)

SERVABLE: Final = (
    "The sizing above still holds. To see the whole flow, pick a model KripTik serves: for "
    "example Qwen/Qwen2.5-7B-Instruct (vLLM, text) or stabilityai/stable-diffusion-xl-base-1.0 "
    "(diffusers, images)."
)


# The deploy targets a user can name, and how each is named back to them.
TARGET_TITLES: Final = {
    "runpod": "RunPod", "huggingface": "Hugging Face Inference Endpoints",
    "cloudrun": "Google Cloud Run", "sagemaker": "Amazon SageMaker",
}  # fmt: skip
# "on Hugging Face", "to HF", "Inference Endpoints": where it runs, not where the model is.
_NAMED_TARGETS: Final = (
    ("cloudrun", re.compile(r"cloud\s*run|\bgcp\b|google\s+cloud", re.IGNORECASE)),
    ("sagemaker", re.compile(r"sage\s*maker|\b(?:on|to|with|in)\s+aws\b", re.IGNORECASE)),
    ("huggingface", re.compile(
        r"inference\s+endpoints?|\b(?:on|to|with|using|via)\s+(?:hugging\s*face|hf)\b",
        re.IGNORECASE,
    )),
    ("runpod", re.compile(r"\brunpod\b", re.IGNORECASE)),
)  # fmt: skip


def target_named(text: str) -> str | None:
    """The deploy target the user's message names (huggingface, cloudrun, sagemaker, runpod),
    if any."""
    return next((name for name, pattern in _NAMED_TARGETS if pattern.search(text)), None)


def target_opening(target: str, repo: str) -> str:
    """The first reply to "deploy it on Hugging Face / Cloud Run"."""
    return (
        f"I'll read {repo}'s metadata on Hugging Face and estimate its GPU memory; then I'll "
        f"deploy it on {TARGET_TITLES[target]} once you approve the card with its price there."
    )


def target_price_line(target: str, repo: str) -> str:
    """Before the approval card of a deployment on Hugging Face or Cloud Run."""
    return (
        f"Deploying {repo} on {TARGET_TITLES[target]}, as you asked: the card shows the GPU "
        "that holds it there, its hourly price per replica and where that price comes from. "
        + (
            "A SageMaker endpoint bills every hour until it is torn down. "
            if target == "sagemaker"
            else "It scales to zero when idle. "
        )
        + "Approve the card to create it."
    )


def gb(value: Any) -> str:
    """A size in GB as people read it: 18.3 GB, 0.47 GB."""
    number = float(value or 0)
    return f"{number:.2f} GB" if number < 1 else f"{number:.1f} GB"


def usd_h(value: Any) -> str:
    return f"${float(value or 0):.2f}/h"


def model_line(m: dict[str, Any]) -> str:
    """One sentence on what `inspect_model` found."""
    params = m.get("parameters_billion")
    size = f"a {params:.2f}B-parameter " if isinstance(params, int | float) else "a "
    kind = " ".join(str(x) for x in (m.get("task"), "model") if x)
    arch = f" ({m['model_type']})" if m.get("model_type") else ""
    text = (
        f"{m.get('repo_id')} is {size}{kind}{arch} with {gb(m.get('weights_gb'))} of "
        f"{m.get('weight_format')} weights"
    )
    if m.get("quantization") not in (None, "none"):
        text += f", quantized ({m['quantization']})"
    licence = m.get("license")
    text += (
        f"; licence: {licence}"
        if licence not in (None, "other")
        else ("; licence: its own (see the model card)" if licence else "; no licence stated")
    )
    text += "."
    if m.get("gated"):
        text += " It is gated on Hugging Face: using it needs an account that accepted its licence."
    if m.get("trust_remote_code"):
        text += " It runs its own code from the repo (trust_remote_code)."
    if m.get("card_states_vram_gb"):
        text += f" Its model card states {gb(m['card_states_vram_gb'])} of GPU memory."
    return text


def vram_line(v: dict[str, Any]) -> str:
    """The VRAM estimate, explained from its parts."""
    where = f"At {v.get('dtype')}"
    if v.get("basis") == "transformer":
        where += f" with a context of {int(v.get('context_tokens') or 0):,} tokens"
        return (
            f"{where} it peaks at about {gb(v.get('total_gb'))} of GPU memory: "
            f"{gb(v.get('weights_gb'))} of weights, {gb(v.get('kv_cache_gb'))} of KV cache, "
            f"{gb(v.get('activations_gb'))} of activations and {gb(v.get('overhead_gb'))} of "
            "CUDA context and allocator overhead."
        )
    if v.get("basis") == "model-card":
        return (
            f"{where} the weights alone take {gb(v.get('weights_gb'))}, but the model card "
            f"states more, so I plan for its {gb(v.get('total_gb'))}."
        )
    return (
        f"{where} it needs about {gb(v.get('total_gb'))} of GPU memory: "
        f"{gb(v.get('weights_gb'))} of weights, {gb(v.get('activations_gb'))} for activations "
        f"while generating, and {gb(v.get('overhead_gb'))} of CUDA overhead (no KV cache: "
        "it is not a text generator)."
    )


def gpu_line(g: dict[str, Any]) -> str:
    """Which RunPod GPU holds it, and what that costs."""
    if not g.get("fits"):
        text = f"It does not fit any RunPod serverless GPU as asked: {g.get('message')}."
        if g.get("max_context_that_fits"):
            text += f" The longest context that fits is {int(g['max_context_that_fits']):,} tokens."
        return text
    count = int(g.get("gpu_count") or 1)
    gpus = f"{count} x {g.get('pool')}" if count > 1 else str(g.get("pool"))
    alternatives = as_list(g.get("alternatives"))
    # A cheaper pool passed over for having no capacity is listed as such: say so here too.
    full = any("no capacity" in str(a) for a in alternatives)
    text = (
        f"The cheapest RunPod serverless GPU that holds it"
        f"{' and has capacity now' if full else ''} is {gpus}: "
        f"{usd_h(g.get('usd_per_hour_running'))} while a worker runs, about "
        f"${float(g.get('usd_per_request') or 0):.4f} per 2-second request, and nothing while "
        "idle (workers scale to zero)."
    )
    if alternatives:
        text += f" Alternatives: {', '.join(str(a) for a in alternatives)}."
    return text + f" (Prices as of {g.get('prices_as_of')}.)"


def sizing_answer(m: dict[str, Any], v: dict[str, Any], g: dict[str, Any]) -> str:
    """The whole answer to "how much GPU does it need, and what would it cost?"."""
    always_on = g.get("usd_per_hour_always_on")
    tail = (
        f" Keeping one worker always on would cost {usd_h(always_on)} instead."
        if g.get("fits") and always_on
        else ""
    )
    return (
        f"{model_line(m)}\n\n{vram_line(v)}\n\n{gpu_line(g)}{tail}\n\n"
        'Nothing was created. Say "deploy it" when you want an endpoint.'
    )


def price_line(g: dict[str, Any], repo: str) -> str:
    """The price statement before the endpoint's approval card."""
    count = int(g.get("gpu_count") or 1)
    return (
        f"Creating the endpoint for {repo} costs money only while a worker runs: {count} x "
        f"{g.get('pool_label') or g.get('pool')} at {usd_h(g.get('usd_per_hour_running'))}, 0 to 1 workers, nothing "
        "while idle. Approve the card to create it."
    )


def deploy_done(r: dict[str, Any], repo: str) -> str:
    """The closing message of a deploy: the endpoint's id, its URLs, cost and teardown."""
    urls = {k.lower(): v for k, v in as_dict(r.get("urls")).items()}
    where = TARGET_TITLES.get(str(r.get("target") or "runpod"), "RunPod")
    lines = [
        f"{repo} is live on {where}. Endpoint id: {r.get('endpoint_id')} "
        f"(deployment {r.get('deployment_id')}), on {r.get('pool')}.",
        "",
    ]
    # The URLs people call; the rest (status, cancel, stream...) are in /deployments.
    labels = {"openai": "OpenAI-compatible base URL", "runsync": "Run and wait (POST)",
              "run": "Run in the background (POST)", "health": "Health", "base": "URL"}  # fmt: skip
    lines += [f"- {label}: {urls[key]}" for key, label in labels.items() if urls.get(key)]
    if urls.get("openai"):
        lines += ["", "Call it with any OpenAI client: base URL above, your RunPod key as the "
                  f"API key, and model \"{repo}\"."]  # fmt: skip
    lines += [
        "",
        f"It costs {usd_h(r.get('usd_per_hour_per_worker'))} while a worker runs and nothing "
        f"while idle; so far ${float(r.get('cost_so_far_usd') or 0):.4f}. To remove it, ask me "
        f"to tear it down, or run `kriptik deployments teardown {r.get('deployment_id')}`.",
    ]
    return "\n".join(lines)


def failed(what: str, why: str, *, created: bool = False) -> str:
    """A tool that did not work: what happened, in its own words, and what to do."""
    state = (
        "Anything it did create is recorded, so teardown can remove it."
        if created
        else "Nothing was created."
    )
    return f"{what} did not work: {why.strip().rstrip('.')}. {state}"


def denied(denial: str, goal: str, after: str) -> str:
    """A denied approval (the denial's own sentence), in plain words: nothing was done."""
    if denial.startswith("KripTik did not ask the user"):
        why = denial.removeprefix("KripTik did not ask the user:").split(" Fix the arguments")[0]
        return f"KripTik could not price this step ({why.strip()}), so it did not ask you to {goal}. {after}"
    return (f"You declined, so I did not {goal}. {after} When you want it, ask again and "
            "I'll show you the card again.")  # fmt: skip


OPENING: Final = {
    "size": "I'll read {repo}'s metadata on Hugging Face (no weights are downloaded), then "
            "estimate its GPU memory and price it on RunPod.",
    "deploy": "I'll read {repo}'s metadata on Hugging Face and check your RunPod key; then I'll "
              "size it, price it, and deploy it as a RunPod serverless endpoint once you approve. "
              "Then I'll put a small web app in front of it so you can try it (a private GitHub "
              "repo and a Vercel site), again with your approval before each step.",
    "app": "I'll read {repo}'s metadata on Hugging Face and check your RunPod key. The plan: size "
           "it, deploy it as a RunPod serverless endpoint, then push a small web app for it to "
           "GitHub and host it, with your approval before each step that costs money or publishes.",
}  # fmt: skip


WORKFLOW_OPENING: Final = (
    "I'll read your ComfyUI workflow: the model files it loads, its custom nodes, the inputs "
    "an endpoint would take, and the GPU memory it needs."
)


_ANSWER: Final = re.compile(r"([\w.+-]+)\s+(?:is|=|->)\s+([\w.-]+/[\w.-]+/[\w./+-]*[\w])")


def workflow_answers(text: str) -> dict[str, str]:
    """The user's answers to a workflow's asks: "FILE is owner/repo/path", one or more."""
    return {m.group(1): m.group(2) for m in _ANSWER.finditer(text)}


def workflow_asks(asks: list[str]) -> str:
    """What the user must supply before an attached workflow can be deployed."""
    listed = "\n".join(f"- {a}" for a in asks)
    return (
        "Before I can deploy this workflow I need a few things I could not find (I won't "
        f"guess them):\n{listed}\nTell me each one and I'll record it."
    )
