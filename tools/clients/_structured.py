"""Local checks for structured secrets (AWS keys, GCP service accounts).

Without the cloud SDKs, a key is checked for shape only; a GCP private key is also
loaded, which proves it is a real RSA key. The messages say so, and never quote a value.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import SecretStr

__all__ = ["aws_fields", "check_aws", "check_gcp"]

_AWS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{12,124}$")
_AWS_SECRET = re.compile(r"^[A-Za-z0-9/+=]{40}$")
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.iam\.gserviceaccount\.com$")
_SHAPE_ONLY = "checked locally for shape only; AWS itself was not asked"

Verdict = tuple[bool, str | None, str]


def _json(secret: SecretStr) -> dict[str, Any] | None:
    try:
        data: object = json.loads(secret.get_secret_value())
    except ValueError:
        return None
    return cast("dict[str, Any]", data) if isinstance(data, dict) else None


def aws_fields(secret: SecretStr) -> dict[str, str]:
    """The AWS JSON's string fields (call `check_aws` first)."""
    return {k: str(v) for k, v in (_json(secret) or {}).items() if v is not None}


def check_aws(secret: SecretStr) -> Verdict:
    """`{"access_key_id", "secret_access_key", "region"?, "session_token"?}`."""
    data = _json(secret)
    example = '{"access_key_id": "AKIA...", "secret_access_key": "...", "region": "us-east-1"}'
    if data is None:
        return False, None, f"AWS credentials must be JSON like {example}; paste them again."
    key_id, key = str(data.get("access_key_id", "")), str(data.get("secret_access_key", ""))
    if not _AWS_KEY_ID.match(key_id):
        hint = "Copy it from IAM > Users > Security credentials, then paste it here."
        return (
            False,
            None,
            f"The AWS access key id should start with AKIA (ASIA if temporary). {hint}",
        )
    if not _AWS_SECRET.match(key):
        return False, None, "The AWS secret access key should be 40 characters; copy it again."
    region = data.get("region")
    if region is not None and not _AWS_REGION.match(str(region)):
        return False, None, f"{region!r} is not an AWS region name (e.g. us-east-1)."
    if key_id.startswith("ASIA") and not data.get("session_token"):
        return False, None, "Temporary AWS keys (ASIA...) need their session_token too."
    return True, f"{key_id[:4]}…{key_id[-4:]}", f"AWS credentials look valid ({_SHAPE_ONLY})."


def check_gcp(secret: SecretStr) -> Verdict:
    """A service-account JSON key file, with a loadable RSA private key."""
    data = _json(secret)
    hint = "Download a JSON key from IAM > Service accounts > Keys, then paste the whole file."
    if data is None or data.get("type") != "service_account":
        return False, None, f"That is not a GCP service-account key. {hint}"
    missing = [
        k for k in ("project_id", "private_key", "client_email", "token_uri") if not data.get(k)
    ]
    if missing:
        return False, None, f"The GCP key file lacks {', '.join(missing)}. {hint}"
    email = str(data["client_email"])
    if not _EMAIL.match(email):
        return False, None, f"{email!r} is not a service-account email. {hint}"
    try:
        key = load_pem_private_key(str(data["private_key"]).encode(), password=None)
    except (ValueError, TypeError):
        return False, email, f"The private key in the GCP key file cannot be read. {hint}"
    if not isinstance(key, RSAPrivateKey):
        return False, email, f"The GCP key file holds no RSA private key. {hint}"
    return (
        True,
        email,
        (
            f"GCP service account {email} looks valid (key file and private key checked locally; "
            "Google itself was not asked)."
        ),
    )
