"""Shared by the AWS client tests: a session on the AWS fake, through the fake's role or a
key pair, with the tests' retry policy (a fake clock: no real sleeps)."""

from __future__ import annotations

import json

from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.aws_credentials import parse_aws_credential
from tools.clients.aws_session import AwsSession
from tools.simulator import aws_state as st
from vault.settings import Settings


def role_session(settings: Settings, retry: Retry, *, external_id: str = st.EXTERNAL_ID,
                 region: str = "us-east-1", role_arn: str = st.ROLE_ARN) -> AwsSession:  # fmt: skip
    secret = json.dumps({"role_arn": role_arn, "external_id": external_id})
    return AwsSession.from_settings(parse_aws_credential(SecretStr(secret)), settings=settings,
                                    region=region, session_name="kriptik-dep-1", retry=retry)  # fmt: skip


def key_session(settings: Settings, retry: Retry, *, key_id: str = st.ACCESS_KEY_ID,
                secret: str = st.SECRET_ACCESS_KEY, token: str | None = None) -> AwsSession:  # fmt: skip
    fields = {"access_key_id": key_id, "secret_access_key": secret} | (
        {"session_token": token} if token else {}
    )
    credential = parse_aws_credential(SecretStr(json.dumps(fields)))
    return AwsSession.from_settings(credential, settings=settings, region="us-east-1",
                                    retry=retry)  # fmt: skip
