"""The pre-push secret scan: nothing leaves for GitHub, Vercel or Netlify with a secret in it.

Two nets:
1. The user's own vault values, in every form the redactor knows (raw, base64 at each
   offset, URL-encoded), and for structured secrets (AWS, GCP JSON) each string inside.
2. Common key patterns, for keys that are not in the vault (hf_, ghp_, github_pat_,
   sk-or-v1-, rpa_, AKIA..., private key blocks...), and any committed `.env` file.

A finding names the file, the line and the kind of secret, never the secret itself, so
the message can go to the chat, the audit log and the model as it is.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, SecretStr

from vault.redact import encoded_forms

__all__ = ["Finding", "SecretFound", "ensure_clean", "scan_files", "scrub"]

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("a Hugging Face token (hf_...)", r"\bhf_[A-Za-z0-9]{30,}"),
        ("a GitHub token (ghp_...)", r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
        ("a GitHub fine-grained token (github_pat_...)", r"\bgithub_pat_[A-Za-z0-9_]{22,}"),
        ("an OpenRouter key (sk-or-...)", r"\bsk-or-(?:v1-)?[A-Za-z0-9]{32,}"),
        ("an API key (sk-...)", r"\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{32,}"),
        ("a RunPod key (rpa_...)", r"\brpa_[A-Za-z0-9]{20,}"),
        ("an AWS access key id (AKIA...)", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("a Netlify token (nfp_...)", r"\bnfp_[A-Za-z0-9]{30,}"),
        ("a Slack token (xox...)", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
        ("a Google API key (AIza...)", r"\bAIza[0-9A-Za-z_-]{35}"),
        ("a Stripe secret key (sk_live_...)", r"\bsk_live_[0-9A-Za-z]{24,}"),
        ("a private key", r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    )
)
_MIN_INNER = 12  # Strings inside a structured secret shorter than this are ids, not keys.
# Fields of a structured secret that every such file holds in the open (a Google service-
# account key's "type": "service_account", its token URL...): searching for them would block
# any app that names them (the Cloud Run client does), and they protect nothing.
_PUBLIC_FIELDS = frozenset({
    "type", "project_id", "client_email", "client_id", "auth_uri", "token_uri",
    "auth_provider_x509_cert_url", "client_x509_cert_url", "universe_domain", "region",
})  # fmt: skip
# Escaping must not hide a key: "rpa\_ABC" in Markdown, "&#95;" in HTML, "\u005f" in JSON.
_BACKSLASHED = re.compile(r"\\([\\`*_\[\]{}()#+\-.!|~<>])")
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


class Finding(BaseModel):
    """One secret found: where, and what kind (never the value)."""

    model_config = ConfigDict(frozen=True)

    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}"


class SecretFound(Exception):
    """The push was blocked; `findings` says where. The message is safe to show anywhere."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        super().__init__(
            f"Push blocked: {first.path} line {first.line} contains {first.kind}{more}. "
            "Remove it from the file (secrets belong in .env, which is git-ignored, or in "
            "the host's environment variables), then try again."
        )


def _inner_strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in cast("dict[str, Any]", value).items():
            if key not in _PUBLIC_FIELDS:
                yield from _inner_strings(item)
    elif isinstance(value, list):
        for item in cast("list[Any]", value):
            yield from _inner_strings(item)


def _vault_needles(secrets: Iterable[SecretStr]) -> list[tuple[str, str]]:
    """(form, kind) for every form of every vault value."""
    needles: list[tuple[str, str]] = []
    for secret in secrets:
        raw = secret.get_secret_value()
        values = [raw]
        try:
            values += [s for s in _inner_strings(json.loads(raw)) if len(s) >= _MIN_INNER]
        except ValueError:
            pass
        for value in values:
            for form in encoded_forms(value):
                how = "" if form == value else " (encoded)"
                needles.append((form, f"one of your stored keys{how}"))
    # Longest first: report the raw form of a key rather than a fragment of its base64.
    return sorted(set(needles), key=lambda n: -len(n[0]))


def _readings(text: str) -> list[str]:
    """The text as stored, and with Markdown, JSON and HTML escapes undone (same lines)."""
    plain = _UNICODE_ESCAPE.sub(_printable, _BACKSLASHED.sub(r"\1", text))
    plain = html.unescape(plain)
    return [text] if plain == text else [text, plain]


def _printable(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char.isprintable() else match.group(0)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def scan_files(files: Mapping[str, bytes], *, secrets: Iterable[SecretStr] = ()) -> list[Finding]:
    """Every secret in `files` (path -> content), at most one finding per file and line."""
    needles = _vault_needles(secrets)
    findings: dict[tuple[str, int], Finding] = {}
    for path, raw in sorted(files.items()):
        name = path.rsplit("/", 1)[-1]
        if name == ".env" or (name.startswith(".env.") and name != ".env.example"):
            findings[(path, 1)] = Finding(path=path, line=1, kind="a .env file (local secrets)")
            continue
        # Latin-1 maps every byte to one character, so binary files are searched too.
        for text in _readings(raw.decode("latin-1")):
            hits = [(text.find(form), kind) for form, kind in needles if form in text]
            hits += [
                (m.start(), kind) for kind, pattern in _PATTERNS for m in pattern.finditer(text)
            ]
            for index, kind in sorted(hits, key=lambda hit: hit[0]):  # Stable: first net wins.
                key = (path, _line_of(text, index))
                findings.setdefault(key, Finding(path=path, line=key[1], kind=kind))
    return list(findings.values())


def ensure_clean(files: Mapping[str, bytes], *, secrets: Iterable[SecretStr] = ()) -> None:
    """Raise `SecretFound` naming the first file and line that holds a secret."""
    if findings := scan_files(files, secrets=secrets):
        raise SecretFound(findings)


def scrub(text: str, secrets: Iterable[SecretStr]) -> str:
    """`text` with every form of each secret masked (for provider text we pass on)."""
    for form, _ in _vault_needles(secrets):
        text = text.replace(form, "[redacted]")
    return text
