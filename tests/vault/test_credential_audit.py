"""Every credential change is an audit row, on SQLite and PostgreSQL: added, validated,
removed and rotated, from the app (actor "user") and from the CLI ("cli"), each written
in the change's own transaction. A row names the provider, the label and the last four
characters; a planted key is in no audit row, in any form."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from tools.credentials import Limiter, check_stored_key, save_key
from tools.simulator.all import FakeStack
from vault import CredentialNotFound, Settings, Vault
from vault.audit import CREDENTIALS_THREAD
from vault.redact import encoded_forms

PLANTED = "rpa_PlantedAuditKey0123456789abcdefQ7zW"
SECOND = "rpa_SecondAuditKey0123456789abcdefgh4Rt"


@pytest.fixture(scope="module")
def runpod() -> Iterator[FakeStack]:
    stack = FakeStack().start()
    stack.runpod.state.keys[PLANTED] = "rw"
    yield stack
    stack.stop()


async def audit_table_text(vault: Vault) -> str:
    """Every value of every audit row, as text: what a database reader sees."""
    async with vault.engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM audit_events"))
        return "\n".join(" ".join(str(value) for value in row) for row in rows)


async def test_every_credential_change_is_an_audit_row_and_none_holds_the_key(
    vault: Vault, settings: Settings, runpod: FakeStack
) -> None:
    app = settings.model_copy(update=runpod.settings_fields())
    ann = await vault.users.create("ann", SecretStr("correct horse battery"))
    limiter = Limiter(window_s=0.0)
    async with httpx.AsyncClient(trust_env=False) as http:
        # The chat's key entry: validated with RunPod, then stored.
        saved = await save_key(vault, app, http, user_id=ann.id, provider="runpod",
                               secret=SecretStr(PLANTED), limiter=limiter)  # fmt: skip
        assert saved.outcome == "saved"
        # The CLI: `keys add --no-validate` replaces it, `keys check` finds it rejected.
        await save_key(vault, app, http, user_id=ann.id, provider="runpod",
                       secret=SecretStr(SECOND), validate=False, actor="cli")  # fmt: skip
        checked = await check_stored_key(vault, app, http, user_id=ann.id, provider="runpod",
                                         limiter=limiter, actor="cli")  # fmt: skip
        assert checked.outcome == "rejected"
    await vault.credentials.rotate()  # `kriptik vault rotate`
    await vault.credentials.remove(ann.id, "runpod")  # the /keys panel

    log = vault.audit
    rows = [r for r in await log.records() if r.kind == "credential"]
    facts = [json.loads(r.args or "{}") for r in rows]
    assert [(r.tool, r.outcome, f["actor"], f["tail"]) for r, f in zip(rows, facts, strict=True)] == [
        ("credential_added", "success", "user", "Q7zW"),
        ("credential_validated", "success", "user", "Q7zW"),
        ("credential_added", "success", "cli", "h4Rt"),
        ("credential_validated", "failed", "cli", "h4Rt"),
        ("credential_rotated", "success", "cli", "h4Rt"),
        ("credential_removed", "success", "user", "h4Rt"),
    ]  # fmt: skip
    assert all(f["provider"] == "runpod" and f["label"] == "default" for f in facts)
    assert {(r.user_id, r.thread_id) for r in rows} == {(ann.id, CREDENTIALS_THREAD)}
    assert facts[2]["replaced_tail"] == "Q7zW" and facts[4]["kek_version"] == 2
    assert rows[5].summary == "runpod key 'default' ending in h4Rt removed by user"
    assert (await log.verify()).ok

    stored = await audit_table_text(vault)
    for key in (PLANTED, SECOND):
        assert [form for form in encoded_forms(key) if form in stored] == []


async def test_a_change_that_fails_writes_no_row_and_numbers_nothing(vault: Vault) -> None:
    ann = await vault.users.create("ann", SecretStr("correct horse battery"))
    await vault.credentials.add(ann.id, "github", SecretStr(SECOND))
    with pytest.raises(CredentialNotFound):
        await vault.credentials.remove(ann.id, "netlify", actor="cli")

    def crash(count: int) -> None:
        raise KeyboardInterrupt("mid-rotation")

    with pytest.raises(KeyboardInterrupt):
        await vault.credentials.rotate(_after_each=crash)
    log = vault.audit
    assert [(r.seq, r.tool) for r in await log.records()] == [(1, "credential_added")]
    report = await log.verify()
    assert report.ok and report.head_seq == 1
