"""The providers whose keys the vault holds, and the checks every pasted key must pass
before it is encrypted.

Token providers take one opaque string. `aws` and `gcp` take structured JSON secrets
(`aws`: a role to assume with its external id, or an access key pair), checked for shape
here (their cloud validation lives with the provider clients).
"""

from __future__ import annotations

import json
import re
from typing import Final, Literal, get_args

from vault.errors import InvalidSecret, UnknownProvider

Provider = Literal[
    "openrouter", "huggingface", "runpod", "github", "vercel", "netlify", "aws", "gcp"
]
PROVIDERS: Final[tuple[Provider, ...]] = get_args(Provider)
STRUCTURED: Final[frozenset[Provider]] = frozenset({"aws", "gcp"})

# Real tokens are 20-200 characters. The caps are generous but stop a pasted file or a
# runaway clipboard (a 1 MB paste) from being stored as a "key".
_MIN_TOKEN = 8
_MAX_TOKEN = 512
_MAX_STRUCTURED = 16_384
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_AWS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
_AWS_ROLE_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def parse_provider(name: str) -> Provider:
    """Return `name` as a known provider, or raise `UnknownProvider` listing the choices."""
    lowered = name.strip().lower()
    for provider in PROVIDERS:
        if provider == lowered:
            return provider
    raise UnknownProvider(f"unknown provider {name!r}; choose one of: {', '.join(PROVIDERS)}")


def check_label(label: str) -> str:
    if not _LABEL.match(label):
        raise InvalidSecret(
            "a label is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return label


def check_secret(provider: Provider, secret: str) -> str:
    """Refuse a secret that cannot be a real key, with a reason; return it unchanged."""
    if provider in STRUCTURED:
        return _check_structured(provider, secret)
    if not secret:
        raise InvalidSecret("the key is empty; paste the whole key")
    if len(secret) > _MAX_TOKEN:
        raise InvalidSecret(
            f"the key is {len(secret):,} characters, more than any {provider} key "
            f"({_MAX_TOKEN} at most); did you paste a file or a whole page?"
        )
    if any(ch.isspace() for ch in secret):
        raise InvalidSecret("the key contains spaces or line breaks; copy it again without them")
    if any(ord(ch) < 32 or ord(ch) == 127 or not ch.isprintable() for ch in secret):
        raise InvalidSecret("the key contains control or invisible characters; copy it again")
    if len(secret) < _MIN_TOKEN:
        raise InvalidSecret(f"the key is only {len(secret)} characters; paste the whole key")
    return secret


def _check_structured(provider: Provider, secret: str) -> str:
    if not secret.strip():
        raise InvalidSecret(f"the {provider} credential is empty; paste its JSON")
    if len(secret) > _MAX_STRUCTURED:
        raise InvalidSecret(
            f"the {provider} credential is {len(secret):,} characters; "
            f"at most {_MAX_STRUCTURED:,} are accepted"
        )
    try:
        data = json.loads(secret)
    except ValueError:
        raise InvalidSecret(f"the {provider} credential must be a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidSecret(f"the {provider} credential must be a JSON object")
    fields: dict[str, object] = data  # pyright: ignore[reportUnknownVariableType]
    if provider == "aws" and "role_arn" in fields:
        # A role to assume: KripTik's principal assumes it with the user's external id.
        if not isinstance(fields["role_arn"], str) or not _AWS_ROLE_ARN.match(fields["role_arn"]):
            raise InvalidSecret("aws role_arn must be arn:aws:iam::<account>:role/<name>")
        if not isinstance(fields.get("external_id"), str) or not fields["external_id"]:
            raise InvalidSecret("aws needs the external_id KripTik generated with the role")
    elif provider == "aws":
        key_id = fields.get("access_key_id")
        if not isinstance(key_id, str) or not _AWS_KEY_ID.match(key_id):
            raise InvalidSecret("aws needs access_key_id: 20 characters starting AKIA or ASIA")
        if not isinstance(fields.get("secret_access_key"), str):
            raise InvalidSecret("aws needs secret_access_key")
    else:
        if fields.get("type") != "service_account":
            raise InvalidSecret('gcp needs a service-account JSON key ("type": "service_account")')
        for name in ("client_email", "private_key", "token_uri"):
            if not isinstance(fields.get(name), str):
                raise InvalidSecret(f"gcp service-account JSON lacks {name!r}")
    return secret


def display_tail(provider: Provider, secret: str) -> str:
    """The last 4 characters shown in listings (of the key id, for structured secrets)."""
    if provider == "aws":
        fields = json.loads(secret)
        return str(fields.get("access_key_id") or fields["role_arn"])[-4:]
    if provider == "gcp":
        return str(json.loads(secret)["client_email"]).split("@", 1)[0][-4:]
    return secret[-4:]
