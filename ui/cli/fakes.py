"""`kriptik fakes serve`: run the provider SIMULATOR (the loopback fakes from the test
suite) and print the settings that point KripTik at it. For demos and end-to-end tests
only: nothing it serves comes from, or reaches, a real provider."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ui.cli.console import say, warn

if TYPE_CHECKING:
    from ui.cli import Subparsers

_ORDER = (
    "openrouter",
    "huggingface",
    "runpod",
    "runpod_jobs",
    "github",
    "vercel",
    "netlify",
    "aws",
)


def register(subparsers: Subparsers) -> None:
    fakes = subparsers.add_parser("fakes", help="provider simulator for demos and e2e tests")
    commands = fakes.add_subparsers(dest="fakes_command", metavar="COMMAND", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve simulated providers on 127.0.0.1 and print the settings to use",
        description="Start loopback simulators of OpenRouter, Hugging Face, RunPod, GitHub, "
        "Vercel, Netlify and AWS (STS, IAM, SageMaker, ECR, Service Quotas, Pricing). They "
        "speak each provider's documented wire protocol, keep "
        "state, and check every request against the provider's published API description. They "
        "are NOT the real services: use them for demos and tests only.",
    )
    serve.add_argument(
        "--port-base", type=int, default=0,
        help="first of 8 consecutive ports (default: random free ports)",
    )  # fmt: skip
    serve.add_argument(
        "--ready-after", type=int, default=2,
        help="polls a new RunPod endpoint stays initializing (default 2)",
    )  # fmt: skip
    serve.add_argument("--env-file", type=Path, help="also write the export lines to this file")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        from tools.simulator.all import FakeStack
        from tools.simulator.aws_state import EXTERNAL_ID, ROLE_ARN
        from tools.simulator.aws_sts import ACCESS_KEY_ID, SECRET_ACCESS_KEY
        from tools.simulator.github import DEFAULT_TOKEN as GITHUB_KEY
        from tools.simulator.huggingface import DEFAULT_TOKEN as HF_KEY
        from tools.simulator.netlify import DEFAULT_TOKEN as NETLIFY_KEY
        from tools.simulator.openrouter import DEFAULT_KEY as OPENROUTER_KEY
        from tools.simulator.runpod import DEFAULT_KEY as RUNPOD_KEY
        from tools.simulator.vercel import DEFAULT_TOKEN as VERCEL_KEY
    except ImportError as error:
        warn(f"error: the simulator could not be loaded: {error}")
        return 2
    base: int = args.port_base
    ports = {name: base + i for i, name in enumerate(_ORDER)} if base else None
    stack = FakeStack()
    stack.runpod.state.ready_after = args.ready_after
    stack.start(ports=ports)
    exports = [f"export KRIPTIK_{k.upper()}={v}" for k, v in stack.settings_fields().items()]
    aws = json.dumps({"access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY})
    role = json.dumps({"role_arn": ROLE_ARN, "external_id": EXTERNAL_ID})
    keys = {"openrouter": OPENROUTER_KEY, "huggingface": HF_KEY, "runpod": RUNPOD_KEY,
            "github": GITHUB_KEY, "vercel": VERCEL_KEY, "netlify": NETLIFY_KEY,
            "aws": aws, "aws (role)": role}  # fmt: skip
    if args.env_file is not None:
        Path(args.env_file).write_text("\n".join(exports) + "\n")
    say("KripTik provider SIMULATOR: loopback fakes, not the real services. Nothing here is real.")
    say("Point KripTik at it with:")
    for line in exports:
        say(f"  {line}")
    say("Simulator keys (accepted only by the simulator):")
    for name, key in keys.items():
        say(f"  {name:<12} {key}")
    say("Serving. Press Ctrl-C to stop.")
    _wait_for_stop()
    stack.stop()
    say("Simulator stopped.")
    return 0


def _wait_for_stop() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    stop.wait()
