"""What the OAuth clients share: PKCE pairs, scope lists, token answers, and errors that
say what to do next without ever echoing a token."""

from __future__ import annotations

import pickle
import re

import pytest
from pydantic import SecretStr

from tools.clients.oauth_tokens import (
    OAuthFailed,
    TokenSet,
    new_pkce,
    oauth_error,
    pkce_challenge,
    split_scopes,
    token_set,
)


def test_pkce_matches_rfc_7636_and_each_pair_is_fresh() -> None:
    # RFC 7636 Appendix B's worked example.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    first, second = new_pkce(), new_pkce()
    raw = first.verifier.get_secret_value()
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", raw)
    assert (first.challenge, first.method) == (pkce_challenge(raw), "S256")
    assert first.verifier != second.verifier
    assert raw not in repr(first) and raw not in str(first)


@pytest.mark.parametrize(
    ("raw", "scopes"),
    [("repo,write:packages", ("repo", "write:packages")), ("openid email", ("openid", "email")),
     ("repo, workflow", ("repo", "workflow")), ("", ()), (None, ())],
)  # fmt: skip
def test_scopes_split_on_commas_or_spaces(raw: object, scopes: tuple[str, ...]) -> None:
    assert split_scopes(raw) == scopes


def test_a_token_answer_becomes_a_token_set_that_hides_its_tokens() -> None:
    answer = {"access_token": "ghu_ACCESS", "token_type": "bearer", "scope": "",
              "expires_in": 28800, "refresh_token": "ghr_REFRESH",
              "refresh_token_expires_in": "15897600"}  # fmt: skip
    tokens = token_set((answer, 200), provider="GitHub")
    assert tokens == TokenSet(access_token=SecretStr("ghu_ACCESS"), scopes=(), expires_in=28800,
                              refresh_token=SecretStr("ghr_REFRESH"),
                              refresh_token_expires_in=15897600)  # fmt: skip
    assert "ghu_ACCESS" not in repr(tokens) and "ghr_REFRESH" not in repr(tokens)
    with pytest.raises(Exception, match="frozen"):
        tokens.scopes = ("repo",)  # type: ignore[misc]  # the point: a frozen model refuses it


def test_an_error_answer_raises_oauth_failed_with_the_code_and_status() -> None:
    with pytest.raises(OAuthFailed) as caught:
        token_set(({"error": "invalid_grant", "error_description": "x"}, 400), provider="Vercel")
    assert (caught.value.code, caught.value.status, caught.value.provider) == (
        "invalid_grant", 400, "Vercel",
    )  # fmt: skip
    assert str(caught.value).endswith("Connect Vercel again.")
    again = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes, as DBOS does
    assert (type(again), again.code, str(again)) == (
        OAuthFailed,
        "invalid_grant",
        str(caught.value),
    )


def test_an_unexpected_error_code_is_never_echoed() -> None:
    planted = "gho_PLANTEDtokenPLANTEDtoken0000000000"
    err = oauth_error(planted, provider="GitHub")
    assert err.code == "unknown_error" and planted not in str(err)
    assert str(oauth_error("server_error", provider="Netlify")) == (
        "Netlify refused the sign-in (server_error). Start it again."
    )
