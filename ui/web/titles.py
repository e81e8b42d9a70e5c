"""Short human titles for tool steps: "Inspecting tencent/HunyuanWorld-Voyager" while it
runs and "Inspected tencent/HunyuanWorld-Voyager" once done, never `inspect_model`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from tools.onboarding import ONBOARDING
from tools.pipeline.target_pick import TARGET_TITLES

_PROVIDER_TITLES: Final[dict[str, str]] = {p: o.title for p, o in ONBOARDING.items()}
_MAX_TITLE: Final = 80


def provider_title(provider: object) -> str:
    """ "RunPod" for "runpod"; an unknown provider keeps its own name."""
    name = str(provider or "").strip()
    return _PROVIDER_TITLES.get(name.lower(), name or "the provider")


def _arg(args: Mapping[str, Any], name: str, fallback: str) -> str:
    value = args.get(name)
    return str(value) if value not in (None, "") else fallback


def _pair(doing: str, done: str, what: str) -> tuple[str, str]:
    return f"{doing} {what}", f"{done} {what}"


def _key(args: Mapping[str, Any]) -> str:
    return f"{provider_title(args.get('provider'))} key"


def _target(args: Mapping[str, Any]) -> str:
    """ "RunPod" (the default target), or the other target's title where the call names it."""
    target = str(args.get("target") or "runpod")
    titles: dict[str, str] = {str(k): v for k, v in TARGET_TITLES.items()}
    return "RunPod" if target == "runpod" else titles.get(target, target)


# tool -> (while it runs, once it is done). The chat shows the first with a shimmer, then
# swaps in the second; a call that fails keeps the first, in red.
_TITLES: Final[dict[str, Callable[[Mapping[str, Any]], tuple[str, str]]]] = {
    "inspect_model": lambda a: _pair("Inspecting", "Inspected", _arg(a, "repo_id", "the model")),
    "estimate_vram": lambda a: _pair(
        "Estimating VRAM for", "Estimated VRAM for", _arg(a, "repo_id", "the model")
    ),
    "choose_gpu": lambda a: _pair(
        "Choosing a GPU for", "Chose a GPU for", _arg(a, "repo_id", "the model")
    ),
    "check_credential": lambda a: _pair("Checking your", "Checked your", _key(a)),
    "request_api_key": lambda a: _pair("Asking for your", "Got your", _key(a)),
    "build_dockerfile": lambda a: _pair(
        "Writing the worker for", "Wrote the worker for", _arg(a, "repo_id", "the model")
    ),
    "compare_targets": lambda a: _pair(
        "Comparing clouds for", "Compared clouds for", _arg(a, "repo_id", "the model")
    ),
    "create_runpod_endpoint": lambda a: _pair(
        "Deploying", "Deployed", f"{_arg(a, 'repo_id', 'the model')} on {_target(a)}"
    ),
    "get_deployment_status": lambda a: _pair("Checking", "Checked", "the deployment"),
    "push_to_github": lambda a: _pair(
        "Pushing", "Pushed", f"{_arg(a, 'repo_name', 'the web app')} to GitHub"
    ),
    "deploy_vercel": lambda a: _pair(
        "Deploying", "Deployed", f"{_arg(a, 'project_name', 'the web app')} to Vercel"
    ),
    "deploy_netlify": lambda a: _pair(
        "Deploying", "Deployed", f"{_arg(a, 'site_name', 'the web app')} to Netlify"
    ),
    "teardown": lambda a: _pair(
        "Tearing down", "Tore down", _arg(a, "endpoint_id", "the deployment")
    ),
}


# Lucide icons shown beside each tool step (instead of an avatar).
_ICONS: Final[dict[str, str]] = {
    "inspect_model": "search", "estimate_vram": "gauge", "choose_gpu": "cpu",
    "check_credential": "shield-check", "request_api_key": "key-round", "compare_targets": "scale",
    "build_dockerfile": "file-code", "create_runpod_endpoint": "rocket",
    "get_deployment_status": "activity", "push_to_github": "git-branch",
    "deploy_vercel": "globe", "deploy_netlify": "globe", "teardown": "trash-2",
}  # fmt: skip


def tool_icon(tool: str) -> str:
    return _ICONS.get(tool, "wrench")


def _short(title: str) -> str:
    return title if len(title) <= _MAX_TITLE else title[: _MAX_TITLE - 1] + "…"


def tool_title(tool: str, args: Mapping[str, Any], *, done: bool = False) -> str:
    """The step title for a tool call, while it runs or once done; an unknown tool gets
    its name in words."""
    make = _TITLES.get(tool)
    if make is None:
        return _short(tool.replace("_", " ").capitalize())
    return _short(make(args)[1 if done else 0])
