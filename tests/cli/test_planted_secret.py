"""A planted key, added, listed, checked, rotated and (as a second key) rejected by the
provider, appears nowhere: not in the database, the command output, or error text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from tests.conftest import new_master_key
from tests.services.kriptik import cli_env, kriptik
from tools.simulator.openrouter import OpenRouterFake
from tools.simulator.server import serve
from vault import Settings, Vault
from vault.redact import encoded_forms

GOOD = "sk-or-v1-PLANTEDgood0123456789abcdefABCDEF0123456789abcdef0123456789ab"
BAD = "sk-or-v1-PLANTEDbad00123456789abcdefABCDEF0123456789abcdef0123456789ab"


@pytest.fixture(scope="module")
def openrouter() -> Iterator[tuple[OpenRouterFake, str]]:
    fake = OpenRouterFake()
    with serve(fake) as url:
        yield fake, url


async def _database_text(database_url: str) -> bytes:
    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database or "")
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    conn = await asyncpg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        # Table names come from the catalogue, not from input.
        rows = [await conn.fetch(f'SELECT row_to_json(t)::text AS j FROM "{t}" t') for t in tables]  # noqa: S608
        return "\n".join(r["j"] for table in rows for r in table).encode()
    finally:
        await conn.close()


async def test_planted_key_appears_nowhere(
    tmp_path: Path, database_url: str, openrouter: tuple[OpenRouterFake, str]
) -> None:
    fake, url = openrouter
    fake.add_key(GOOD)
    master = new_master_key()
    home = tmp_path / "home"
    vault = await Vault.open(
        Settings(home=home, database_url=database_url, master_key=SecretStr(master))
    )
    await vault.users.create("admin", SecretStr("a long enough password"), role="admin")
    await vault.close()
    env = cli_env(
        home,
        KRIPTIK_DATABASE_URL=database_url,
        KRIPTIK_MASTER_KEY=master,
        KRIPTIK_OPENROUTER_BASE_URL=f"{url}/api/v1",
    )

    outputs: list[str] = []

    def run(*args: str, stdin: str | None = None) -> int:
        result = kriptik(*args, env=env, stdin=stdin)
        outputs.extend([result.stdout, result.stderr])
        return result.returncode

    assert run("keys", "add", "openrouter", stdin=GOOD) == 0, outputs
    assert "OpenRouter key saved, ends in 89ab, validated" in outputs[0]
    assert run("keys", "list") == 0 and run("keys", "list", "--json") == 0
    assert run("vault", "rotate") == 0
    assert run("keys", "add", "openrouter", "--label", "second", stdin=BAD) == 1
    assert "Nothing was stored" in outputs[-1]
    fake.state.accounts.pop(GOOD)  # the provider revokes the key: a failing re-check
    assert run("keys", "check") == 1
    assert "openrouter (default" in outputs[-2]

    database = await _database_text(database_url)
    for planted in (GOOD, BAD):
        for form in encoded_forms(planted):
            assert form.encode() not in database, form
            for text in outputs:
                assert form not in text
    assert not any("Traceback" in text for text in outputs)
    # The fake saw the key (it had to), but only in the Authorization header.
    assert any(call.headers.get("authorization") == f"Bearer {GOOD}" for call in fake.calls)
