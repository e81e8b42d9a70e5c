"""`kriptik audit verify|export` and `kriptik chat --fake-llm`, run through the CLI's main."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.agent.test_audit import fill
from tests.conftest import new_master_key
from ui.cli import main
from vault import Settings, Vault, get_settings
from vault.audit import AuditLog

SCRIPT = Path(__file__).parent / "scripts" / "deploy.json"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("KRIPTIK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KRIPTIK_MASTER_KEY", new_master_key())
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def run_sql(settings: Settings, *statements: str) -> str:
    """Fill the audit log (and tamper with it); returns the id of row seq 3."""

    async def body() -> str:
        vault = await Vault.open(settings)
        try:
            if not statements:
                await fill(AuditLog(vault.sessions))
            async with vault.engine.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
                return str(await conn.scalar(text("SELECT id FROM audit_events WHERE seq = 3")))
        finally:
            await vault.close()

    return asyncio.run(body())


def test_audit_verify_and_export(
    home: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_sql(home)
    assert main(["audit", "verify"]) == 0
    assert "Audit chain intact: 5 rows verified (head seq 5)." in capsys.readouterr().out

    assert main(["audit", "export", "--thread", "t1", "--format", "md"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("# Audit transcript: thread t1") and "`inspect_model`" in markdown
    out = tmp_path / "t1.jsonl"
    assert main(["audit", "export", "--thread", "t1", "--output", str(out)]) == 0
    assert [json.loads(line)["seq"] for line in out.read_text().splitlines()] == [1, 2, 3, 4, 5]
    assert main(["audit", "export", "--thread", "nope"]) == 1
    capsys.readouterr()

    changed = run_sql(home, "UPDATE audit_events SET outcome = 'success' WHERE seq = 3")
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "Audit chain BROKEN" in err and f"changed: row seq 3 (id {changed}" in err
    assert main(["audit", "verify", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["problems"][0]["row_id"] == changed


def test_chat_plays_a_script_against_the_fakes(
    home: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "--fake-llm", str(SCRIPT)]) == 0
    out = capsys.readouterr().out
    for line in (
        "you> Deploy kriptik-test/tiny-llama on RunPod",
        "  🔑 RunPod key requested (to price GPUs and create the endpoint)",
        "     (entered from the script)",
        "  ✓ request_api_key [success]: RUNPOD_API_KEY stored",
        "  ⚠ approval: Create a RunPod endpoint for kriptik-test/tiny-llama; price: $0.58/h",
        "  ✗ create_runpod_endpoint [failed]: The deployment pipeline is not running in this process",
        "kriptik> The deployment pipeline runs inside `kriptik serve`",
        "  [done: 2 model requests",
    ):
        assert line in out, line
    assert out.index("🔑") < out.index("RUNPOD_API_KEY stored") < out.index("⚠ approval")
    assert "rpa_" not in out  # the fake key itself is never printed


def test_chat_reports_a_bad_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"turns": [{"no user": 1}]}')
    assert main(["chat", "--fake-llm", str(bad)]) == 2
    assert "cannot read the script" in capsys.readouterr().err
