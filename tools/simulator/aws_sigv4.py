"""SigV4 as the AWS fake checks it: the `Authorization` header read, and its signature
recomputed by botocore (an independent implementation) with the secret the fake knows, at
the request's own timestamp. A signing mistake fails here exactly as it would at AWS."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SignedBy", "expected_signature", "read_authorization"]

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})"
)


@dataclass(frozen=True)
class SignedBy:
    """What the `Authorization` header claims."""

    key_id: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def read_authorization(header: str) -> SignedBy | None:
    m = _AUTH.fullmatch(header)
    if m is None:
        return None
    key_id, _, region, service, signed, signature = m.groups()
    return SignedBy(key_id, region, service, signed.split(";"), signature)


def expected_signature(
    *, method: str, url: str, headers: dict[str, str], body: bytes, signed: SignedBy,
    secret: str, token: str | None,
) -> str:  # fmt: skip
    """The signature botocore computes for this request (botocore ships no type stubs)."""
    from botocore.auth import SigV4Auth  # pyright: ignore[reportMissingTypeStubs]
    from botocore.awsrequest import AWSRequest  # pyright: ignore[reportMissingTypeStubs]
    from botocore.credentials import Credentials  # pyright: ignore[reportMissingTypeStubs]

    chosen = {name: headers[name] for name in signed.signed_headers if name in headers}
    aws = AWSRequest(method=method, url=url, data=body, headers=chosen)
    aws.context["timestamp"] = headers.get("x-amz-date", "")  # pyright: ignore[reportUnknownMemberType]
    auth = SigV4Auth(Credentials(signed.key_id, secret, token), signed.service, signed.region)
    canonical = auth.canonical_request(aws)  # pyright: ignore[reportUnknownMemberType]
    to_sign = auth.string_to_sign(aws, canonical)  # pyright: ignore[reportUnknownMemberType]
    return str(auth.signature(to_sign, aws))  # pyright: ignore[reportUnknownMemberType]
