"""Start `tests.resilience.host` processes against the fakes, and read their JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from vault import Settings

REPO = Path(__file__).resolve().parents[2]


def host_env(settings: Settings) -> dict[str, str]:
    """The environment of an instance: its settings as KRIPTIK_* variables, nothing else."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(settings.home),
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "0",
    }
    for name, value in settings.model_dump(exclude_none=True).items():
        if name in {"home", "database_url", "http_timeout_s"} or name.endswith("base_url"):
            env[f"KRIPTIK_{name.upper()}"] = str(value)
    assert settings.master_key is not None
    env["KRIPTIK_MASTER_KEY"] = settings.master_key.get_secret_value()
    return env


class Host:
    """One run of tests/resilience/host.py."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> Host:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.resilience.host", *args, cwd=REPO, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def next(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=120)
        if not line:
            err = await self.proc.stderr.read() if self.proc.stderr else b""
            raise AssertionError(f"the process ended early:\n{err.decode()[-3000:]}")
        return json.loads(line)

    async def ask(self) -> dict[str, Any]:
        """For `watch`: one report of the deployment, now."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"?\n")
        await self.proc.stdin.drain()
        return await self.next()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=60)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
