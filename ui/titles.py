"""Short human titles for tool steps: "Inspecting tencent/HunyuanWorld-Voyager", not
`inspect_model`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from tools.onboarding import ONBOARDING

_PROVIDER_TITLES: Final = {p: o.title for p, o in ONBOARDING.items()}


def provider_title(provider: object) -> str:
    """ "RunPod" for "runpod"; an unknown provider keeps its own name."""
    name = str(provider or "").strip()
    return _PROVIDER_TITLES.get(name.lower(), name or "the provider")  # pyright: ignore[reportArgumentType, reportCallIssue]


def _arg(args: Mapping[str, Any], name: str, fallback: str = "") -> str:
    value = args.get(name)
    return str(value) if value not in (None, "") else fallback


_TITLES: Final[dict[str, Callable[[Mapping[str, Any]], str]]] = {
    "inspect_model": lambda a: f"Inspecting {_arg(a, 'repo_id', 'the model')}",
    "estimate_vram": lambda a: f"Estimating VRAM for {_arg(a, 'repo_id', 'the model')}",
    "choose_gpu": lambda a: f"Choosing a GPU for {_arg(a, 'repo_id', 'the model')}",
    "check_credential": lambda a: f"Checking your {provider_title(a.get('provider'))} key",
    "request_api_key": lambda a: f"Asking for your {provider_title(a.get('provider'))} key",
    "build_dockerfile": lambda a: f"Writing the worker for {_arg(a, 'repo_id', 'the model')}",
    "create_runpod_endpoint": lambda a: f"Deploying {_arg(a, 'repo_id', 'the model')} on RunPod",
    "get_deployment_status": lambda a: "Checking the deployment",
    "push_to_github": lambda a: f"Pushing {_arg(a, 'repo_name', 'the web app')} to GitHub",
    "deploy_vercel": lambda a: f"Deploying {_arg(a, 'project_name', 'the web app')} to Vercel",
    "deploy_netlify": lambda a: f"Deploying {_arg(a, 'site_name', 'the web app')} to Netlify",
    "teardown": lambda a: f"Tearing down {_arg(a, 'endpoint_id', 'the deployment')}",
}

_MAX_TITLE = 80


def tool_title(tool: str, args: Mapping[str, Any]) -> str:
    """The step title for a tool call; unknown tools get their name in words."""
    make = _TITLES.get(tool)
    title = make(args) if make else tool.replace("_", " ").capitalize()
    return title if len(title) <= _MAX_TITLE else title[: _MAX_TITLE - 1] + "…"
