"""`kriptik fakes serve`: a real process serving the simulator, used through its settings."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx
from pydantic import SecretStr

from tools.clients.validate import validate_key
from tools.simulator import openrouter, runpod
from vault.settings import Settings

REPO = Path(__file__).resolve().parents[2]


async def test_fakes_serve_prints_settings_that_work(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    env_file = tmp_path / "simulator.env"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ui.cli", "fakes", "serve", "--env-file", str(env_file),
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        while not (
            line := (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        ).startswith("Serving."):
            assert line, "the simulator exited before serving"
            lines.append(line)
        output = "".join(lines)
        assert "SIMULATOR" in output and "not the real services" in output
        assert openrouter.DEFAULT_KEY in output
        exports = env_file.read_text().splitlines()
        fields = dict(e.removeprefix("export KRIPTIK_").lower().split("=", 1) for e in exports)
        settings = Settings.model_validate(fields)
        assert settings.runpod_rest_base_url.startswith("http://127.0.0.1:")
        check = await validate_key(
            "runpod", SecretStr(runpod.DEFAULT_KEY), settings=settings, http=http
        )
        assert check.ok
        bad = await validate_key(
            "openrouter", SecretStr("sk-or-v1-wrong"), settings=settings, http=http
        )
        assert not bad.ok
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "Simulator stopped." in out.decode()
