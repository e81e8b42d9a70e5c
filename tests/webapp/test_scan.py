"""The pre-push secret scan: key patterns, the user's vault values in every encoding,
escaped forms, `.env` files, and messages that name the file but never the secret."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from tools.publish import SecretFound, ensure_clean, scan_files
from tools.publish.scan import scrub

SAMPLES = {
    "a Hugging Face token (hf_...)": "hf_" + "aB3" * 12,
    "a GitHub token (ghp_...)": "ghp_" + "Zx9" * 12,
    "a GitHub fine-grained token (github_pat_...)": "github_pat_11ABCDEFG0" + "x_Y" * 10,
    "an OpenRouter key (sk-or-...)": "sk-or-v1-" + "0123456789abcdef" * 4,
    "an API key (sk-...)": "sk-proj-" + "Ab1_" * 10,
    "a RunPod key (rpa_...)": "rpa_" + "Q7W" * 14,
    "an AWS access key id (AKIA...)": "AKIAIOSFODNN7EXAMPLE",
    "a Netlify token (nfp_...)": "nfp_" + "k8L" * 12,
    "a private key": "-----BEGIN OPENSSH PRIVATE KEY-----",
}


@pytest.mark.parametrize(("kind", "secret"), SAMPLES.items())
def test_key_patterns_are_found_and_named_never_shown(kind: str, secret: str) -> None:
    files = {
        "src/ok.py": b"print('hello')\n",
        "src/config.js": f'const a = 1;\nconst key = "{secret}";\n'.encode(),
    }
    with pytest.raises(SecretFound) as caught:
        ensure_clean(files)
    assert caught.value.findings[0].model_dump() == {
        "path": "src/config.js",
        "line": 2,
        "kind": kind,
    }
    assert str(caught.value).startswith(f"Push blocked: src/config.js line 2 contains {kind}.")
    assert secret not in str(caught.value) and secret[4:20] not in repr(caught.value.findings)


VAULT = SecretStr("legacyRUNPODkey0123456789ABCDEF")


@pytest.mark.parametrize(
    "encoded",
    [
        VAULT.get_secret_value(),
        base64.b64encode(VAULT.get_secret_value().encode()).decode(),
        base64.b64encode(
            b"x:" + VAULT.get_secret_value().encode()
        ).decode(),  # Basic auth, offset 2.
        quote("k=" + VAULT.get_secret_value() + "&"),
        "legacyRUNPODkey01234&#53;6789ABCDEF",  # An HTML entity.
        "legacyRUNPODkey\\u00301234567" + "89ABCDEF",  # A JSON escape.
    ],
)
def test_vault_values_are_found_in_any_encoding(encoded: str) -> None:
    files = {"README.md": f"# App\n\nconfig: {encoded}\n".encode()}
    (finding,) = scan_files(files, secrets=[VAULT])
    assert (finding.path, finding.line) == ("README.md", 3)
    assert finding.kind.startswith("one of your stored keys")


def test_structured_secrets_are_searched_by_their_parts() -> None:
    aws = SecretStr(
        json.dumps(
            {
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            }
        )
    )
    (finding,) = scan_files(
        {"deploy.sh": b"export AWS_SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"},
        secrets=[aws],
    )
    assert finding.kind == "one of your stored keys"


def test_a_service_account_key_is_searched_by_its_secret_parts_only() -> None:
    """Every Google key file holds "service_account" and Google's token URL in the open: an
    app that names them (the Cloud Run client) is no leak; its key id or private key is."""
    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    )
    gcp = SecretStr(json.dumps({
        "type": "service_account", "project_id": "kriptik-demo", "private_key_id": "a1" * 20,
        "private_key": pem, "client_email": "deployer@kriptik-demo.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token", "universe_domain": "googleapis.com",
    }))  # fmt: skip
    client = b"def _key_text(service_account: str | None) -> str:\nTOKEN_URL = 'https://oauth2.googleapis.com/token'\n"
    assert scan_files({"client.py": client}, secrets=[gcp]) == []
    key_id = f"KEY_ID = '{'a1' * 20}'\n".encode()
    (finding,) = scan_files({"k.py": key_id}, secrets=[gcp])
    assert finding.kind == "one of your stored keys"


def test_markdown_escaped_keys_are_found() -> None:
    (finding,) = scan_files({"README.md": b"key: rpa\\_" + b"Q7W" * 14 + b"\n"})
    assert finding.kind == "a RunPod key (rpa_...)"


def test_env_files_are_refused_but_the_example_is_fine() -> None:
    findings = scan_files(
        {".env": b"", "app/.env.local": b"", ".env.example": b"RUNPOD_API_KEY=\n"}
    )
    assert [(f.path, f.kind) for f in findings] == [
        (".env", "a .env file (local secrets)"),
        ("app/.env.local", "a .env file (local secrets)"),
    ]


def test_binary_files_are_searched() -> None:
    blob = bytes(range(256)) + VAULT.get_secret_value().encode() + b"\xff\x00"
    assert [f.path for f in scan_files({"public/logo.png": blob}, secrets=[VAULT])] == [
        "public/logo.png"
    ]


@settings(max_examples=40, deadline=None)
@given(
    secret=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40),
    prefix=st.text(max_size=3),
)
def test_scrub_masks_every_form(secret: str, prefix: str) -> None:
    raw = prefix + secret
    text = f"a {raw} b {base64.b64encode(raw.encode()).decode()} c {quote(raw, safe='')}"
    cleaned = scrub(text, [SecretStr(secret)])
    assert secret not in cleaned and quote(secret, safe="") not in cleaned
