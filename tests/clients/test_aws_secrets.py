"""A planted AWS secret access key and session token appear in no log record, exception
text or repr, whatever the call does; and nothing on the start path of `kriptik serve`
loads boto3 (its idle memory and cold-start budget)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from pydantic import SecretStr

from tests.clients.aws_helpers import key_session, role_session
from tests.services.kriptik import PROJECT_ROOT
from tools.clients._http import Retry
from tools.clients.aws_sdk import AwsKeys
from tools.clients.errors import ProviderError
from tools.clients.sagemaker import SageMakerClient
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from vault.settings import Settings

_SECRET = "PLANTEDsecretKEY0000000000000000000000x1"
_TOKEN = "PLANTEDsessionTOKEN" + "z" * 60


async def test_planted_keys_and_role_sessions_leak_nowhere(
    fakes: FakeStack,
    fake_settings: Settings,
    retry: Retry,
    all_logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    botocore_log = logging.getLogger("botocore")
    monkeypatch.setattr(botocore_log, "level", logging.DEBUG)  # an operator debugging AWS
    fakes.aws.state.accounts["ASIAPLANTED000000001"] = st.AwsAccount(_SECRET, session_token=_TOKEN)
    session = key_session(fake_settings, retry, key_id="ASIAPLANTED000000001", secret=_SECRET,
                          token=_TOKEN)  # fmt: skip
    sm = SageMakerClient(session)
    # AWS's own text quoting the secret (as an echoing proxy might) is scrubbed too.
    fakes.aws.fail_op("sagemaker:DescribeEndpoint", "ValidationException",
                      message=f"bad request from {_SECRET} {_TOKEN}")  # fmt: skip
    errors: list[ProviderError] = []
    with pytest.raises(ProviderError) as caught:
        await sm.describe_endpoint("kriptik-e1")
    errors.append(caught.value)
    role = role_session(fake_settings, retry)
    await SageMakerClient(role).list_endpoints("kriptik-")
    issued = [a for a in fakes.aws.state.accounts.values() if a.role]
    fakes.aws.expire_sessions()
    fakes.aws.fail_op("sagemaker:ListEndpoints", "ExpiredTokenException", times=2)
    with pytest.raises(ProviderError) as caught:
        await SageMakerClient(role).list_endpoints("kriptik-")
    errors.append(caught.value)
    planted = [_SECRET, _TOKEN] + [v for a in issued for v in (a.secret, a.session_token or "")]
    seen = " ".join([all_logs.text, *map(str, errors), *map(repr, errors), repr(session),
                     repr(role), repr(await role.keys()), str(await session.keys())])  # fmt: skip
    assert "kriptik-e1" in seen and len(issued) == 1
    for secret in planted:
        assert secret not in seen
    assert botocore_log.level == logging.INFO  # lowered back, whoever set DEBUG
    keys = AwsKeys(access_key_id="ASIAPLANTED000000001", secret_access_key=SecretStr(_SECRET),
                   session_token=SecretStr(_TOKEN))  # fmt: skip
    assert _SECRET not in repr(keys) and _TOKEN not in f"{keys}"


def test_the_start_path_does_not_load_boto3() -> None:
    probe = (
        "import sys, ui.web.app, tools.clients.validate, tools.clients.aws_sts, "
        "tools.clients.aws_session, tools.clients.sagemaker, tools.clients.ecr; "
        "print(','.join(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'boto3', 'botocore', 's3transfer'})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.strip() == ""
