"""KripTik processes for the resilience and crash tests: their environment, their JSON lines,
and the guarantee that none outlives its test.

- `Host`: one run of `tests.resilience.host` (a fresh interpreter), read line by line.
- `ForkServer`: a process that imports the app once and forks one child per run, so a test
  that kills and restarts the app many times pays the imports (seconds) once. Each child is
  a new process (new pid, nothing of the app started before the fork), so a SIGKILL and a
  restart are real. `serve_forks` is the server's side; the test drives it with `run`.

Every child started here is SIGKILLed in a `finally` (or dies with its fork server, through
PR_SET_PDEATHSIG), whatever the test's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from vault import Settings

REPO = Path(__file__).resolve().parents[2]
_LINE_TIMEOUT_S = 120.0


def base_env(home: Path) -> dict[str, str]:
    """What every process of ours needs besides its settings: this repo, loopback only."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "0",
    }


def host_env(settings: Settings) -> dict[str, str]:
    """The environment of an instance: its settings as KRIPTIK_* variables, nothing else."""
    env = base_env(settings.home)
    for name, value in settings.model_dump(exclude_none=True).items():
        if name in {"home", "database_url", "http_timeout_s"} or name.endswith("base_url"):
            env[f"KRIPTIK_{name.upper()}"] = str(value)
    assert settings.master_key is not None
    env["KRIPTIK_MASTER_KEY"] = settings.master_key.get_secret_value()
    return env


def kill_quietly(pid: int) -> None:
    """SIGKILL `pid` if it still exists (a child of ours that may have ended already)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class JsonLines:
    """A child process that prints one JSON object a line on stdout."""

    what = "the process"

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def spawn(
        cls, module: str, env: dict[str, str], *args: str, stderr: Path | None = None
    ) -> Self:
        with open(stderr, "ab") if stderr else contextlib.nullcontext() as err:  # noqa: ASYNC230
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, *args, cwd=REPO, env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=err if err is not None else asyncio.subprocess.PIPE,
            )  # fmt: skip
        return cls(proc)

    async def _stderr_tail(self) -> str:
        if self.proc.stderr is None:
            return ""
        return (await self.proc.stderr.read()).decode(errors="replace")[-3000:]

    async def next(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=_LINE_TIMEOUT_S)
        if not line:
            raise AssertionError(f"{self.what} ended early:\n{await self._stderr_tail()}")
        return json.loads(line)

    async def kill(self) -> None:
        """SIGKILL it unless it has ended; reap it either way."""
        if self.proc.returncode is None:
            kill_quietly(self.proc.pid)
        await self.proc.wait()


class Host(JsonLines):
    """One run of tests/resilience/host.py."""

    what = "the host"

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> Host:
        return await cls.spawn("tests.resilience.host", env, *args)

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
                await self.kill()


# ---- fork server ---------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


@dataclass
class Run:
    """One forked child's lines (its own, in order) and how it ended (-9: SIGKILL)."""

    pid: int
    lines: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    exit: int | None = None


class ForkServer(JsonLines):
    """Drives `serve_forks` in a child process: one `run` at a time."""

    what = "the fork server"

    def __init__(self, proc: asyncio.subprocess.Process, stderr: Path) -> None:
        super().__init__(proc)
        self.stderr = stderr
        self.child: int | None = None

    @classmethod
    async def open(cls, module: str, folder: Path) -> ForkServer:
        """Start `python -m module` in `folder` (where its stderr goes)."""
        stderr = folder / f"{module}.stderr"
        server = cls((await JsonLines.spawn(module, base_env(folder), stderr=stderr)).proc, stderr)
        try:
            assert await server.next() == {"ready": True}
        except BaseException:
            await server.close()
            raise
        return server

    async def _stderr_tail(self) -> str:
        return self.stderr.read_text(errors="replace")[-4000:] if self.stderr.exists() else ""

    async def run(self, request: dict[str, Any], env: dict[str, str]) -> Run:
        """Fork a child with the environment `env` for `request`; return once it has ended
        (or been killed)."""
        assert self.proc.stdin is not None
        line = {"request": request, "env": env}
        self.proc.stdin.write(json.dumps(line).encode() + b"\n")
        await self.proc.stdin.drain()
        run = Run(pid=0)
        try:
            while "reaped" not in (line := await self.next()):
                if "forked" in line:  # the child may have printed first
                    run.pid = self.child = line["forked"]
                else:
                    run.lines.append(line)
            self.child, run.exit = None, line["reaped"]
        except TimeoutError:
            raise AssertionError(
                f"the child {run.pid} was silent for {_LINE_TIMEOUT_S}s after {run.lines}:\n"
                f"{await self._stderr_tail()}"
            ) from None
        finally:
            if self.child is not None:  # not reaped: it is still ours to kill
                kill_quietly(self.child)
                self.child = None
        return run

    async def explain(self, run: Run) -> str:
        return f"child {run.pid} exit {run.exit}, lines {run.lines}\n{await self._stderr_tail()}"

    async def close(self) -> None:
        """Kill any running child and the server (the child would die with it anyway)."""
        if self.child is not None:
            kill_quietly(self.child)
        if self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), timeout=10)
        await self.kill()


def _say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def _die_with(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit if it died already."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(70)


def serve_forks(run: Callable[[dict[str, Any]], Coroutine[Any, Any, None]]) -> None:
    """The server's loop (call it as a module's main, after its imports): for each JSON
    request on stdin, fork; the child takes the request's environment (its settings; and
    imports, such as the test suite's conftest, may have changed the server's) and runs
    `asyncio.run(run(request))`; the server reports `{"forked": pid}` first and
    `{"reaped": exit code}` last. Ends at EOF."""
    _die_with(os.getppid())  # the test's process: no server outlives it
    me = os.getpid()
    _say(ready=True)
    for line in sys.stdin:
        message = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                _die_with(me)
                sys.stdin.close()
                os.environ.clear()
                os.environ.update(message["env"])
                asyncio.run(run(message["request"]))
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _say(forked=pid)
        _, status = os.waitpid(pid, 0)
        _say(reaped=os.waitstatus_to_exitcode(status))
