"""AWS STS fake: `GetCallerIdentity`, with every SigV4 signature recomputed by botocore
(an independent implementation), so a signing mistake in our client fails here exactly
as it would at AWS (`SignatureDoesNotMatch`). Errors are STS's XML `ErrorResponse`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from tools.simulator._base import Exchange, FakeProvider, FakeRequest, route

ACCESS_KEY_ID = "AKIAKRIPTIKFAKE00001"
SECRET_ACCESS_KEY = "kriptikFAKEsecretACCESSkey00000000000000"
_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/sts/aws4_request, "
                   r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})")  # fmt: skip


@dataclass
class AwsAccount:
    secret: str
    arn: str = "arn:aws:iam::123456789012:user/kriptik-deployer"
    account: str = "123456789012"
    user_id: str = "AIDAKRIPTIKFAKE00001"
    session_token: str | None = None


class _StsContract:
    """The documented shape of the one call: a signed form POST of GetCallerIdentity."""

    def check_request(self, ex: Exchange) -> list[str]:
        form = parse_qs(ex.body.decode())
        problems = (
            []
            if ex.content_type.startswith("application/x-www-form-urlencoded")
            else ["not a form POST"]
        )
        if form.get("Action") != ["GetCallerIdentity"] or form.get("Version") != ["2011-06-15"]:
            problems.append(f"expected Action=GetCallerIdentity&Version=2011-06-15, got {form}")
        if not _AUTH.fullmatch(ex.headers.get("authorization", "")):
            problems.append("no SigV4 Authorization header")
        return problems + [
            f"missing header {h}" for h in ("x-amz-date", "host") if h not in ex.headers
        ]

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        root = "GetCallerIdentityResponse" if status == 200 else "ErrorResponse"
        return [] if body.startswith(f"<{root}".encode()) else [f"body is not an STS <{root}>"]


class AwsStsFake(FakeProvider):
    """STS for known access keys."""

    name = "AWS STS"

    def __init__(self) -> None:
        super().__init__(_StsContract())
        self.accounts: dict[str, AwsAccount] = {}
        self.reset_state()

    def reset_state(self) -> None:
        self.accounts = {ACCESS_KEY_ID: AwsAccount(SECRET_ACCESS_KEY)}

    def authenticate(self, request: Request) -> bool:
        return True  # STS answers a bad signature with its own 403 codes, below.

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        code = {400: "InvalidAction", 403: "AccessDenied", 429: "Throttling"}.get(
            status, "InternalFailure"
        )
        return self._error(status, code, message, headers)

    def _error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        kind = "Sender" if status < 500 else "Receiver"
        xml = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
               "<RequestId>fake-request-id</RequestId></ErrorResponse>")  # fmt: skip
        return Response(xml, status, headers=headers, media_type="text/xml")

    @route("POST", "/")
    async def sts(self, req: FakeRequest) -> Response:
        m = _AUTH.fullmatch(req.headers.get("authorization", ""))
        account = self.accounts.get(m.group(1)) if m else None
        if m is None or account is None:
            return self._error(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        key_id, _, region, signed, signature = m.groups()
        token = req.headers.get("x-amz-security-token")
        if account.session_token != token:
            return self._error(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        if signature != _expected(req, key_id, account.secret, token, region, signed.split(";")):
            return self._error(
                403, "SignatureDoesNotMatch", "The request signature we calculated does not match."
            )
        xml = (f"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>{account.arn}</Arn>"
               f"<UserId>{account.user_id}</UserId><Account>{account.account}</Account>"
               "</GetCallerIdentityResult></GetCallerIdentityResponse>")  # fmt: skip
        return Response(xml, 200, media_type="text/xml")


def _expected(
    req: FakeRequest, key_id: str, secret: str, token: str | None, region: str, signed: list[str]
) -> str:
    """The signature botocore computes for this request, at the request's own timestamp.

    botocore is imported here, not at the top: it is a test dependency, and an installed
    `kriptik demo` serves this fake without it (nothing there signs an STS request). It
    ships no type information, so its few untyped members are ignored where touched."""
    from botocore.auth import SigV4Auth  # pyright: ignore[reportMissingTypeStubs]
    from botocore.awsrequest import AWSRequest  # pyright: ignore[reportMissingTypeStubs]
    from botocore.credentials import Credentials  # pyright: ignore[reportMissingTypeStubs]

    headers = {name: req.headers[name] for name in signed if name in req.headers}
    aws = AWSRequest(method="POST", url=f"{req.base_url}/", data=req.body, headers=headers)
    # Untyped in botocore: `context` is a plain dict, the signer's methods take AWSRequests.
    aws.context["timestamp"] = req.headers.get("x-amz-date", "")  # pyright: ignore[reportUnknownMemberType]
    auth = SigV4Auth(Credentials(key_id, secret, token), "sts", region)
    canonical = auth.canonical_request(aws)  # pyright: ignore[reportUnknownMemberType]
    to_sign = auth.string_to_sign(aws, canonical)  # pyright: ignore[reportUnknownMemberType]
    return str(auth.signature(to_sign, aws))  # pyright: ignore[reportUnknownMemberType]
