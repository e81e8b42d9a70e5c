"""`kriptik demo`: the whole product against the SIMULATOR, with no accounts. The
provider simulator, a simulated LLM and the chat app start together; nothing real is
created and nothing leaves loopback.

    kriptik demo                                  # the web app, with the login printed
    kriptik demo --once "Deploy Qwen/Qwen2.5-0.5B-Instruct as an API" --approve

The demo runs in a temporary home of its own (database, master key, keys), removed when
it stops: it never reads or changes the user's real home, keys or deployments, and its
settings come from nothing but the simulator (no `KRIPTIK_*` variable applies). `--once`
runs one chat turn headless, answering key questions with the simulator's keys and
approvals with yes when `--approve` says so; it exits 0 only if every deployment the
turn started reached its end, and otherwise names the stage that failed.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import SecretStr

from ui.cli.console import run_command, say

if TYPE_CHECKING:
    from collections.abc import Generator

    from agent import Approval, ApprovalDecision, Question
    from tools.simulator.demo import DemoStack
    from ui.cli import Subparsers
    from ui.root import Substitutes
    from vault import Settings

# Fault injection for trying the failure paths: the simulated provider route that fails.
FAILURES: Final = {
    "endpoint": ("runpod", "POST /v2/serverless"),
    "template": ("runpod", "POST /v2/templates"),
    "github": ("github", "POST /user/repos"),
    "vercel": ("vercel", "POST /v13/deployments"),
}


def register(subparsers: Subparsers) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="try the whole product against a local simulator (no accounts, nothing real)",
        description="Start a SIMULATOR of every provider and of the LLM, and the chat app "
        "on it, in a temporary home. Nothing real is created, nothing is charged, and no "
        "request leaves this machine.",
    )
    demo.add_argument("--port", type=int, default=8000, help="chat app port (default 8000)")
    demo.add_argument("--once", metavar="TEXT", help="run one chat turn headless and exit")
    demo.add_argument(
        "--approve", action="store_true", help="with --once: answer every approval with yes"
    )
    demo.add_argument(
        "--fail", choices=sorted(FAILURES), help="make this simulated provider step fail"
    )
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from tools.simulator.demo import DemoStack

    with _temporary_home() as home:
        stack = DemoStack().start()
        try:
            if args.fail:
                provider, route = FAILURES[args.fail]
                # Every call fails, not only the first: the clients retry a 5xx.
                stack.providers.fakes()[provider].fail(route, 500, times=None)
            substitutes, registry_stop = demo_substitutes(stack)
            try:
                settings = demo_settings(stack, home, port=args.port)
                if args.once is not None:
                    return int(run_command(lambda: _once(settings, substitutes, stack, args)))
                _announce(stack, home)
                from ui.cli.serve import serve_app

                return serve_app(settings, substitutes=substitutes)
            finally:
                registry_stop()
        finally:
            stack.stop()


@contextmanager
def _temporary_home() -> Generator[Path]:
    home = Path(tempfile.mkdtemp(prefix="kriptik-demo-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def demo_settings(stack: DemoStack, home: Path, *, port: int = 8000) -> Settings:
    """The demo's settings: the simulator's URLs and the temporary home, and nothing
    from the environment."""
    from vault import isolated_settings

    master = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    fields: dict[str, Any] = stack.settings_fields() | _connect_apps(stack) | {
        "home": home, "master_key": master, "simulation": True, "port": port,
        "instance_id": "demo", "http_timeout_s": 10.0,
    }  # fmt: skip
    return isolated_settings(**fields)


def _connect_apps(stack: DemoStack) -> dict[str, Any]:
    """The simulated providers' registered apps, so every Connect button works in the demo:
    GitHub through its App (the simulator's registry needs no GHCR scope), Vercel and
    Netlify through theirs, OpenRouter by its key exchange. Not GitHub's OAuth app: that
    would also put "Sign in with GitHub" on the demo's login page."""
    apps = stack.providers.oauth_settings_fields()
    return {name: value for name, value in apps.items() if not name.startswith("github_oauth_")}


def demo_substitutes(stack: DemoStack) -> tuple[Substitutes, Any]:
    """The simulator's image builder and registry, and the web edge that serves the
    simulated web hosts and refuses everything beyond loopback; with the registry's stop."""
    from tools.pipeline.services import StaticRegistry, Timings
    from tools.simulator.edge import WebEdge
    from tools.simulator.images import SimulatedImages, SimulatedRegistry
    from tools.simulator.server import ServedApp
    from ui.root import Substitutes

    registry = SimulatedRegistry()
    served = ServedApp(registry)
    substitutes = Substitutes(
        images=SimulatedImages(registry),
        registry=StaticRegistry(host=f"127.0.0.1:{served.port}", space="demo"),
        transport=WebEdge(stack.providers),
        # The simulator answers at once: look at the endpoint often, so the demo is brisk.
        timings=Timings(poll_s=0.5, smoke_wait_ms=10_000),
    )
    return substitutes, served.stop


def _announce(stack: DemoStack, home: Path) -> None:
    say("")
    say("  KripTik DEMO: a SIMULATION. Every provider and the AI model are local simulators;")
    say("  nothing real is created, nothing is charged, and nothing leaves this machine.")
    say("  When the chat asks for a key, paste the simulator's key for that provider:")
    for provider, key in sorted(stack.keys.items()):
        if provider == "gcp":  # a whole service-account JSON file: too long for a line
            key_file = home / "simulator-gcp-key.json"
            key_file.write_text(key)
            key = f"the whole file {key_file}"
        say(f"      {provider:<12} {key}")
    say("")


class _Answers:
    """Key questions answered with the simulator's keys; approvals with `--approve`."""

    def __init__(self, keys: dict[str, str], *, approve: bool, who: str) -> None:
        self._keys, self._approve, self._who = keys, approve, who

    async def ask_secret(self, question: Question) -> SecretStr | None:
        key = self._keys.get(question.provider)
        return SecretStr(key) if key is not None else None

    async def ask_approval(self, approval: Approval) -> ApprovalDecision:
        from agent.interaction import ApprovalDecision

        note = None if self._approve else "denied: run with --approve to answer yes"
        return ApprovalDecision(approved=self._approve, by=self._who, note=note)


async def _once(
    settings: Settings, substitutes: Substitutes, stack: DemoStack, args: argparse.Namespace
) -> int:
    """One headless turn on the demo stack; 0 only when everything it started worked."""
    from tools.credentials import Limiter
    from ui.cli.headless import play
    from ui.root import opened_root

    async with opened_root(settings, substitutes=substitutes) as root:
        user = await root.vault.users.create("demo", SecretStr(secrets.token_urlsafe(24)))
        await root.launch_pipeline()
        ctx = root.turn(
            user_id=user.id, user_name=user.name, thread_id=f"demo-{secrets.token_hex(4)}",
            interaction=_Answers(stack.keys, approve=args.approve, who=user.name),
            # One headless turn answers faster than a person: its own key-check limiter.
            limiter=Limiter(window_s=0.0),
        )  # fmt: skip
        say("SIMULATION: every provider and the model are local simulators; nothing is real.")
        return await play(ctx, root.deployments, [args.once], key_source=_KEY_SOURCE)


_PROVIDERS: Final = (
    "runpod", "huggingface", "github", "vercel", "netlify", "openrouter", "gcp", "aws",
)  # fmt: skip
_KEY_SOURCE: Final[dict[str, str]] = dict.fromkeys(_PROVIDERS, "answered with the simulator's key")
