"""`kriptik audit verify|export` and `kriptik chat --fake-llm`, run through the CLI's main."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.agent.test_audit import (
    cut_tail,
    deny_and_reseal,
    empty_chain,
    fill,
    guessed_key,
    unkeyed,
)
from tests.conftest import new_master_key
from ui.cli import main
from vault import Settings, Vault, get_settings

SCRIPT = Path(__file__).parent / "scripts" / "deploy.json"
DIFFUSION = "kriptik-test/tiny-diffusion"


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
                await fill(vault.audit)
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


@pytest.fixture
def anywhere(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The CLI's settings on SQLite and on PostgreSQL."""
    monkeypatch.setenv("KRIPTIK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KRIPTIK_MASTER_KEY", new_master_key())
    monkeypatch.setenv("KRIPTIK_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def with_vault(settings: Settings, action: Callable[[Vault], Awaitable[None]]) -> None:
    async def body() -> None:
        vault = await Vault.open(settings)
        try:
            await action(vault)
        finally:
            await vault.close()

    asyncio.run(body())


async def _filled(vault: Vault) -> None:
    await fill(vault.audit, endpoint="success")


# What a database writer without the master key can do, and what `verify` must then say.
FORGERIES: dict[str, tuple[Callable[[Vault], Awaitable[None]], list[str]]] = {
    "cut-the-tail-and-roll-the-head-back": (cut_tail, [
        "truncated: truncated after seq 4: the anchor in",
        "the last rows seq 5..5 are missing (deleted)",
    ]),
    "deny-and-reseal-unkeyed": (lambda v: deny_and_reseal(v, unkeyed), [
        "changed: row seq 3 (id", "changed: row seq 4 (id", "changed: row seq 5 (id",
        "create_runpod_endpoint, thread t1) was changed after it was written",
    ]),
    "deny-and-reseal-with-a-guessed-key": (lambda v: deny_and_reseal(v, guessed_key), [
        "changed: row seq 3 (id", "changed: row seq 4 (id", "changed: row seq 5 (id",
        "its content no longer matches its MAC",
    ]),
    "delete-every-row": (empty_chain, [
        "truncated: the chain is empty, but the anchor in",
        "says it reached seq 5: every row was deleted",
    ]),
}  # fmt: skip


@pytest.mark.parametrize("forgery", FORGERIES)
def test_audit_verify_fails_after_each_forgery(
    anywhere: Settings, forgery: str, capsys: pytest.CaptureFixture[str]
) -> None:
    forge, expected = FORGERIES[forgery]
    with_vault(anywhere, _filled)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "Audit chain intact: 5 rows verified (head seq 5)." in out
    assert "anchored: the anchor in" in out
    with_vault(anywhere, forge)
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "Audit chain BROKEN" in err
    assert [line for line in expected if line not in err] == []
    assert main(["audit", "verify", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["problems"] and report["anchored_seq"] == 5


def test_chat_plays_a_script_against_the_fakes(
    home: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "--fake-llm", str(SCRIPT)]) == 0
    out = capsys.readouterr().out
    for line in (
        "you> Deploy kriptik-test/tiny-llama on RunPod",
        "  🔑 RunPod key requested (to price GPUs and create the endpoint); entered from the script",
        "  ✓ request_api_key [success]: RUNPOD_API_KEY stored",
        "  ⚠ approval: Deploy kriptik-test/tiny-llama; price: kriptik-test/tiny-llama on 1 x 16 GB (AMPERE_16)",
        "  … A worker is ready.",
        "  ✓ create_runpod_endpoint [success]: ",
        "  [turn done: 2 model requests",
    ):
        assert line in out, line
    assert out.index("🔑") < out.index("RUNPOD_API_KEY stored") < out.index("⚠ approval")
    # The durable pipeline ran in this process: the endpoint is ready, and only then "Done.".
    assert "(kriptik-test/tiny-llama, ready)" in out
    assert out.rstrip().endswith("Done.")
    assert "rpa_" not in out  # the fake key itself is never printed


def test_chat_never_says_done_after_a_failure(
    home: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = json.loads(SCRIPT.read_text())
    # A diffusers model needs a generated worker image, and this chat has no Docker engine:
    # the deployment fails at its build stage.
    # (On AMPERE_24: 24 h of one worker there stays within the default per-deployment cap.)
    script["turns"][1]["model"][0]["args"] = {"repo_id": DIFFUSION, "pool": "AMPERE_24"}
    failing = tmp_path / "failing.json"
    failing.write_text(json.dumps(script))
    assert main(["chat", "--fake-llm", str(failing)]) == 1
    captured = capsys.readouterr()
    assert "Done." not in captured.out
    assert "FAILED: " in captured.err and "build" in captured.err, captured.err


def test_chat_reports_a_bad_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"turns": [{"no user": 1}]}')
    assert main(["chat", "--fake-llm", str(bad)]) == 2
    assert "cannot read the script" in capsys.readouterr().err
