"""Run the real `kriptik` console script in a subprocess, with its own KRIPTIK_HOME."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRIPTIK_")}
    env |= {"KRIPTIK_HOME": str(home), "PYTHONUNBUFFERED": "1"} | extra
    return env


def kriptik(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        input=stdin,
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Server:
    url: str
    admin_password: str
    log_path: Path
    process: subprocess.Popen[str]

    def log(self) -> str:
        return self.log_path.read_text()


@contextmanager
def serve(home: Path, **extra_env: str) -> Iterator[Server]:
    """Start `kriptik serve` on a free loopback port; wait until /health answers."""
    port = free_port()
    log_path = home.parent / f"serve-{port}.log"
    env = cli_env(home, **extra_env)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "serve", "--port", str(port)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # Bounds, not waits: a busy machine imports the app in tens of seconds, and a slow
        # answer to /health is an answer (a 1 s limit read it as "not up yet" forever).
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"kriptik serve exited:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=30).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening (or not answering) yet: look again until the deadline
            if time.monotonic() > deadline:
                raise TimeoutError(f"kriptik serve did not answer:\n{log_path.read_text()}")
            time.sleep(0.1)  # polling the server's own health state, not a fixed wait
        match = re.search(r"shown only once\):\s*\n\s*(\S+)", log_path.read_text())
        yield Server(url, match.group(1) if match else "", log_path, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
