"""OAuth redirect flows waiting for their callback, on SQLite and PostgreSQL: the state is
checked once, bound to the user and the chat session, and expires; only digests of the
state and the session are stored, and the PKCE verifier is sealed (and re-wrapped by a KEK
rotation)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, text

from vault import OAuthStateInvalid, Vault
from vault.models import Kek, OAuthPending, utcnow
from vault.redact import encoded_forms

VERIFIER = "PlantedVerifier-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH_~."
CALLBACK = "https://kriptik.example/connect/vercel/callback"


async def _user(vault: Vault, name: str = "ann") -> str:
    return (await vault.users.create(name, SecretStr("correct horse battery"))).id


async def _begin(vault: Vault, user: str, *, session: str = "session-1", **more: object) -> str:
    return await vault.oauth_pending.begin(
        user, "vercel", session_id=session, verifier=SecretStr(VERIFIER),
        redirect_uri=CALLBACK, **more,  # pyright: ignore[reportArgumentType]
    )  # fmt: skip


async def test_a_state_is_consumed_once_with_its_verifier(vault: Vault) -> None:
    ann = await _user(vault)
    state = await _begin(vault, ann)
    assert len(state) >= 43
    pending = await vault.oauth_pending.consume(state, user_id=ann, session_id="session-1")
    assert pending.provider == "vercel" and pending.redirect_uri == CALLBACK
    assert pending.verifier is not None and pending.verifier.get_secret_value() == VERIFIER
    assert VERIFIER not in repr(pending)
    with pytest.raises(OAuthStateInvalid, match="Start the connection again"):
        await vault.oauth_pending.consume(state, user_id=ann, session_id="session-1")


async def test_neither_the_state_nor_the_verifier_is_stored_in_the_clear(vault: Vault) -> None:
    ann = await _user(vault)
    state = await _begin(vault, ann, session="planted-session-id")
    async with vault.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM oauth_pending"))).all()
    stored = " ".join(repr(value) for row in rows for value in row)
    for secret in (VERIFIER, state, "planted-session-id"):
        for form in encoded_forms(secret):
            assert form not in stored


@pytest.mark.parametrize("who", ["another session", "another user"])
async def test_a_state_is_bound_to_its_user_and_session_and_a_wrong_try_burns_it(
    vault: Vault, who: str
) -> None:
    ann, bob = await _user(vault), await _user(vault, "bob")
    state = await _begin(vault, ann)
    user, session = (ann, "session-2") if who == "another session" else (bob, "session-1")
    with pytest.raises(OAuthStateInvalid):
        await vault.oauth_pending.consume(state, user_id=user, session_id=session)
    with pytest.raises(OAuthStateInvalid):  # checked once: the right session is too late
        await vault.oauth_pending.consume(state, user_id=ann, session_id="session-1")


async def test_a_state_expires(vault: Vault) -> None:
    ann = await _user(vault)
    state = await _begin(vault, ann, ttl_s=60)
    start = utcnow()
    vault.oauth_pending.clock = lambda: start + timedelta(seconds=61)
    with pytest.raises(OAuthStateInvalid):
        await vault.oauth_pending.consume(state, user_id=ann, session_id="session-1")


async def test_an_unknown_state_and_an_empty_session_are_refused(vault: Vault) -> None:
    ann = await _user(vault)
    with pytest.raises(OAuthStateInvalid):
        await vault.oauth_pending.consume("never-issued", user_id=ann, session_id="session-1")
    with pytest.raises(OAuthStateInvalid):
        await _begin(vault, ann, session="")


async def test_expired_flows_are_swept_as_new_ones_begin(vault: Vault) -> None:
    ann = await _user(vault)
    await _begin(vault, ann, ttl_s=1)
    start = utcnow()
    vault.oauth_pending.clock = lambda: start + timedelta(seconds=5)
    await _begin(vault, ann)
    async with vault.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OAuthPending)) == 1


async def test_a_flow_without_pkce_keeps_no_verifier(vault: Vault) -> None:
    ann = await _user(vault)
    state = await vault.oauth_pending.begin(
        ann, "netlify", session_id="s", verifier=None, redirect_uri=CALLBACK
    )
    pending = await vault.oauth_pending.consume(state, user_id=ann, session_id="s")
    assert pending.verifier is None and pending.provider == "netlify"


async def test_rotation_rewraps_a_waiting_verifier(vault: Vault) -> None:
    ann = await _user(vault)
    state = await _begin(vault, ann)
    assert await vault.credentials.rotate() == (2, 0)
    async with vault.sessions() as session:
        assert list(await session.scalars(select(Kek.version))) == [2]
    pending = await vault.oauth_pending.consume(state, user_id=ann, session_id="session-1")
    assert pending.verifier is not None and pending.verifier.get_secret_value() == VERIFIER
