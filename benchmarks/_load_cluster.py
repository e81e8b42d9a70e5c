"""The load test's service: a fresh PostgreSQL database, the providers' process
(`benchmarks._load_fakes`), and `kriptik serve` instances on that database sharing the
master key and the login secret, as docs/deploy.md runs them behind a load balancer.

Also what the load test reads from the database to judge the run: the instances' rows
(heartbeats and takeovers), the deployments' records and their workflows' executors.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import text

from benchmarks._measure import rss_kib
from tests.resilience.processes import JsonLines, base_env
from tests.services import postgres
from tests.services.kriptik import PROJECT_ROOT, cli_env, free_port
from tools.simulator.huggingface import DEFAULT_TOKEN
from tools.simulator.runpod import DEFAULT_KEY
from vault import Settings, Vault
from vault.deployments import DeploymentStore, DeploymentView
from vault.instances import InstanceStore, InstanceView

START_POSTGRES = PROJECT_ROOT / "scripts" / "start-postgres.sh"
PASSWORD = "load-test-password-1"  # noqa: S105 - the load test's throwaway users


def postgres_admin_url() -> str:
    """KRIPTIK_TEST_POSTGRES_URL, or the throwaway server `scripts/start-postgres.sh`
    starts (idempotent: it reuses a running one) and names."""
    if url := os.environ.get("KRIPTIK_TEST_POSTGRES_URL"):
        return url
    out = subprocess.run(  # noqa: S603 - our own script, by its full path
        ["/bin/bash", str(START_POSTGRES)], capture_output=True, text=True, check=True,
        timeout=300,
    ).stdout  # fmt: skip
    return out.strip().rsplit("=", 1)[-1]


@asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new, empty database for this run; its SQLAlchemy URL; dropped afterwards."""
    async with postgres.fresh_database(admin_url, prefix="kriptik_load") as url:
        yield url


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class Fakes:
    """The providers' process: its settings, and its two commands."""

    def __init__(self, process: JsonLines, env: dict[str, str]) -> None:
        self.process, self.env = process, env

    @classmethod
    @asynccontextmanager
    async def running(cls, home: Path) -> AsyncIterator[Fakes]:
        """`home` must exist: the process's home folder, and where its stderr goes."""
        process = await JsonLines.spawn(
            "benchmarks._load_fakes", base_env(home), stderr=home / "fakes.stderr"
        )
        try:
            yield cls(process, (await process.next())["env"])
        finally:
            await process.kill()

    async def _command(self, command: str) -> dict[str, Any]:
        stdin = self.process.proc.stdin
        assert stdin is not None
        stdin.write(command.encode() + b"\n")
        await stdin.drain()
        return await self.process.next()

    async def release(self) -> int:
        """RunPod's held workers are ready at their next look; how many endpoints."""
        return int((await self._command("release"))["released"])

    async def report(self) -> dict[str, Any]:
        return await self._command("report")


@dataclass
class Instance:
    """One `kriptik serve` process."""

    name: str  # "A", "B": as the report names it
    instance_id: str  # its DBOS executor id
    url: str
    process: asyncio.subprocess.Process
    log: Path
    ready_s: float

    def rss_mib(self) -> float | None:
        if self.process.returncode is not None:
            return None
        try:
            return rss_kib(self.process.pid) / 1024
        except OSError:
            return None

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no last heartbeat, as a machine that dies."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                await self.kill()

    def log_lines(self, fragment: str) -> int:
        if not self.log.exists():
            return 0
        return sum(
            1 for line in self.log.read_text(errors="replace").splitlines() if fragment in line
        )


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _ready(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Until /readyz answers 200: the database, the migrations and the workflow engine."""
    deadline = time.monotonic() + 240
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"kriptik serve exited:\n{_tail(log)}")
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise TimeoutError(f"kriptik serve was not ready:\n{_tail(log)}")
            await asyncio.sleep(0.1)  # polling the server's own readiness


async def start_instance(name: str, home: Path, env: dict[str, str]) -> Instance:
    """`kriptik serve` on a free loopback port, once /readyz says it is ready. Its log
    goes beside `home`, which `kriptik serve` creates."""
    port = free_port()
    log = home.parent / f"instance-{name}.log"
    instance_id = env["KRIPTIK_INSTANCE_ID"]
    started = time.perf_counter()
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ui.cli", "serve", "--port", str(port),
            cwd=PROJECT_ROOT, env=cli_env(home, **env), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        await _ready(url, process, log)
    except BaseException:
        if process.returncode is None:
            process.kill()
        await process.wait()
        raise
    return Instance(name, instance_id, url, process, log, time.perf_counter() - started)


async def open_vault(database_url: str, master_key: str, home: Path) -> Vault:
    """The benchmark's own handle on the shared database (migrated on opening)."""
    return await Vault.open(
        Settings(home=home, database_url=database_url, master_key=SecretStr(master_key))
    )


async def add_users(vault: Vault, names: list[str], deployers: set[str]) -> dict[str, str]:
    """Create the users (password `PASSWORD`); the deployers get RunPod and Hugging Face
    keys. Returns name -> user id."""
    ids: dict[str, str] = {}
    for name in names:
        ids[name] = (await vault.users.create(name, SecretStr(PASSWORD))).id
        if name in deployers:
            await vault.credentials.add(ids[name], "runpod", SecretStr(DEFAULT_KEY))
            await vault.credentials.add(ids[name], "huggingface", SecretStr(DEFAULT_TOKEN))
    return ids


async def deployments(vault: Vault, user_ids: list[str]) -> list[DeploymentView]:
    store = DeploymentStore(vault.sessions)
    return [view for user_id in user_ids for view in await store.list(user_id)]


async def executors(vault: Vault, workflow_ids: list[str]) -> dict[str, tuple[str, str]]:
    """workflow id -> (status, executor id), from DBOS's own table."""
    if not workflow_ids:
        return {}
    async with vault.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT workflow_uuid, status, executor_id FROM dbos.workflow_status "
                "WHERE workflow_uuid = ANY(:ids)"
            ),
            {"ids": workflow_ids},
        )
        return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


async def instance_row(vault: Vault, instance_id: str) -> InstanceView | None:
    rows = await InstanceStore(vault.sessions).list()
    return next((r for r in rows if r.instance_id == instance_id), None)
