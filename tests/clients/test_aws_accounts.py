"""The AWS credential, the assumed role, the permission dry check, ECR, quotas and prices,
through boto3 against the AWS fake."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.clients.aws_helpers import key_session, role_session
from tools.clients._http import Retry
from tools.clients.aws_credentials import (
    InvalidAwsCredential,
    check_role_arn,
    new_external_id,
    parse_aws_credential,
    role_account,
)
from tools.clients.aws_errors import RoleNotAssumable
from tools.clients.aws_iam import check_permissions, principal_of
from tools.clients.aws_permissions import AwsNames, PermissionCheck, plan_checks
from tools.clients.aws_pricing import AwsPricingClient, CachedSageMakerPrices
from tools.clients.aws_quotas import AwsQuotasClient
from tools.clients.ecr import EcrClient
from tools.clients.errors import AuthError, RateLimited, Upstream
from tools.clients.validate import validate_key
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from vault.errors import InvalidSecret
from vault.providers import check_secret, display_tail
from vault.settings import Settings


@pytest.mark.parametrize(("arn", "why"), [
    ("arn:aws:iam::12345:role/x", "it is not an IAM role ARN"),
    ("arn:aws:iam::123456789012:user/alice", "that is a user ARN"),
    ("arn:aws:sts::123456789012:assumed-role/r/s", "that is an assumed-role session ARN"),
    ("kriptik-access", "it is not an IAM role ARN"),
])  # fmt: skip
def test_a_malformed_role_arn_is_refused_before_any_call(arn: str, why: str) -> None:
    with pytest.raises(InvalidAwsCredential, match=why):
        check_role_arn(arn)


def test_role_credentials_parse_and_external_ids_are_unique() -> None:
    arn = "arn:aws:iam::123456789012:role/team/kriptik-access-1a2b3c4d"
    assert role_account(check_role_arn(f"  {arn} ")) == "123456789012"
    ids = {new_external_id() for _ in range(50)}
    assert len(ids) == 50 and all(i.startswith("kriptik-") and len(i) == 32 for i in ids)
    secret = SecretStr(json.dumps({"role_arn": arn, "external_id": "kriptik-1", "region": "mars"}))
    with pytest.raises(InvalidAwsCredential, match="not an AWS region"):
        parse_aws_credential(secret)
    with pytest.raises(InvalidAwsCredential, match="external id"):
        parse_aws_credential(SecretStr(json.dumps({"role_arn": arn})))
    # The vault takes the role form too, and shows the end of the role's name.
    stored = json.dumps({"role_arn": arn, "external_id": "kriptik-1"})
    assert (check_secret("aws", stored), display_tail("aws", stored)) == (stored, "3c4d")
    with pytest.raises(InvalidSecret, match="role_arn must be"):
        check_secret("aws", json.dumps({"role_arn": "kriptik-access", "external_id": "x1"}))


async def test_a_role_is_assumed_with_the_users_external_id_and_validated(
    fakes: FakeStack, fake_settings: Settings, http: httpx.AsyncClient, retry: Retry
) -> None:
    good = json.dumps({"role_arn": st.ROLE_ARN, "external_id": st.EXTERNAL_ID})
    check = await validate_key("aws", SecretStr(good), settings=fake_settings, http=http,
                               retry=retry)  # fmt: skip
    assert (check.ok, check.identity, check.limits) == (
        True,
        st.ROLE_ARN,
        {"account": st.USER_ACCOUNT},
    )
    assert check.message == (f"KripTik assumed the AWS role {st.ROLE_ARN}. {st.ROLE_ARN} allows "
                             "every step of the plan.")  # fmt: skip
    assumed = fakes.aws.calls_to("POST /")[0].body.decode()
    assert "Action=AssumeRole" in assumed and f"ExternalId={st.EXTERNAL_ID}" in assumed


async def test_a_role_whose_trust_policy_lacks_the_external_id_is_refused(
    fakes: FakeStack, fake_settings: Settings, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.aws.state.roles[st.ROLE_ARN].external_id = "kriptik-someone-else"
    with pytest.raises(RoleNotAssumable) as caught:
        await role_session(fake_settings, retry).identity()
    assert caught.value.message == (
        f"AWS would not let KripTik assume the role {st.ROLE_ARN} (403). Its trust policy must "
        f"name KripTik's principal with your external id {st.EXTERNAL_ID}: create or update the "
        "CloudFormation stack from the template KripTik generated for you, then try again."
    )
    good = json.dumps({"role_arn": st.ROLE_ARN, "external_id": st.EXTERNAL_ID})
    check = await validate_key("aws", SecretStr(good), settings=fake_settings, http=http,
                               retry=retry)  # fmt: skip
    assert not check.ok and "would not let KripTik assume" in check.message
    # A trust policy without any external-id condition is refused too: anyone's KripTik
    # account could assume that role.
    fakes.aws.state.roles[st.ROLE_ARN].external_id = None
    lax = await validate_key("aws", SecretStr(good), settings=fake_settings, http=http,
                             retry=retry)  # fmt: skip
    assert not lax.ok and "without your external id, so anyone's KripTik" in lax.message
    no_operator = fake_settings.model_copy(update={"aws_operator_access_key_id": None})
    with pytest.raises(RoleNotAssumable, match="no AWS principal of its own"):
        await role_session(no_operator, retry).identity()


async def test_the_dry_check_names_each_missing_permission(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    session = role_session(fake_settings, retry)
    names = AwsNames.for_external_id(st.EXTERNAL_ID)
    checks = plan_checks(names, st.USER_ACCOUNT, "us-east-1", scale_to_zero=True)
    assert (await check_permissions(session, checks, principal_arn=st.ROLE_ARN)).ok
    fakes.aws.deny(st.ROLE_ARN, "iam:PassRole")
    fakes.aws.deny(st.ROLE_ARN, "ecr:PutImage")
    report = await check_permissions(session, checks, principal_arn=st.ROLE_ARN)
    assert report.checked and not report.ok
    assert sorted(c.action for c in report.missing) == ["ecr:PutImage", "iam:PassRole"]
    assert "is missing ecr:PutImage, iam:PassRole. Update your KripTik" in report.note
    fakes.aws.deny(st.ROLE_ARN, "iam:SimulatePrincipalPolicy")
    unchecked = await check_permissions(session, [PermissionCheck("sagemaker:CreateModel")],
                                        principal_arn=st.ROLE_ARN)  # fmt: skip
    assert (unchecked.checked, unchecked.ok) == (False, False)
    assert principal_of("arn:aws:sts::123456789012:assumed-role/r1/s") == (
        "arn:aws:iam::123456789012:role/r1"
    )


async def test_ecr_repository_login_images_and_deletion(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    ecr = EcrClient(role_session(fake_settings, retry))
    repo = await ecr.ensure_repository("kriptik-workers-1a2b3c4d")
    assert repo.uri == f"{st.USER_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/kriptik-workers-1a2b3c4d"
    assert await ecr.ensure_repository(repo.name) == repo  # found, not created twice
    login = await ecr.login()
    assert (login.username, login.registry) == (
        "AWS",
        f"https://{st.USER_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com",
    )
    assert login.password.get_secret_value() not in repr(login)
    digest = fakes.aws.push_image("us-east-1", repo.name, "dep-1")
    assert [(i.digest, i.tags) for i in await ecr.images(repo.name)] == [(digest, ("dep-1",))]
    assert await ecr.delete_image(repo.name, tag="dep-1")
    assert not await ecr.delete_image(repo.name, tag="dep-1")
    assert await ecr.delete_repository(repo.name)
    assert not await ecr.delete_repository(repo.name)
    assert fakes.aws.state.resources() == {}


async def test_quotas_and_prices_per_region(
    fakes: FakeStack, fake_settings: Settings, retry: Retry, clock: FakeClock, tmp_path: Path
) -> None:
    session = role_session(fake_settings, retry, region="eu-west-1")
    fakes.aws.state.quotas["ml.g6.xlarge"] = 0
    quotas = AwsQuotasClient(session)
    g6, g5 = (
        await quotas.endpoint_quota("ml.g6.xlarge"),
        await quotas.endpoint_quota("ml.g5.xlarge"),
    )
    assert g6 is not None and g5 is not None and (g6.allows_one, g5.allows_one) == (False, True)
    assert g6.request_url.startswith("https://eu-west-1.console.aws.amazon.com/servicequotas/")
    assert await quotas.endpoint_quota("ml.nothing.xlarge") is None
    pricing = AwsPricingClient(session, clock=clock.now)
    price = await pricing.hosting_price("ml.g5.xlarge", region="eu-west-1")
    assert price is not None and round(price.usd_per_hour, 4) == 1.577  # hosting, not training
    assert price.source == "AWS Price List API (AmazonSageMaker, eu-west-1)"
    assert await pricing.hosting_price("ml.p5.48xlarge", region="eu-central-1") is None
    cache = CachedSageMakerPrices(pricing, tmp_path / "prices.json", clock=clock.now)
    first = await cache.price("ml.g5.xlarge", "us-east-1")
    asked = len(fakes.aws.calls)
    assert await cache.price("ml.g5.xlarge", "us-east-1") == first
    assert len(fakes.aws.calls) == asked  # from the file, with its date
    await clock.sleep(timedelta(days=8).total_seconds())
    again = await cache.price("ml.g5.xlarge", "us-east-1")
    assert again is not None and first is not None and again.as_of > first.as_of


async def test_a_key_pair_signs_its_own_calls_and_a_wrong_secret_is_rejected(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    me = await key_session(fake_settings, retry).identity()
    assert me.arn == f"arn:aws:iam::{st.USER_ACCOUNT}:user/kriptik-deployer"
    wrong = key_session(fake_settings, retry, secret="x" * 40)
    with pytest.raises(
        AuthError, match=r"AWS rejected the access key \(InvalidSignatureException\)"
    ):
        await EcrClient(wrong).login()


async def test_sts_throttling_and_server_errors_mean_could_not_tell(
    fakes: FakeStack, fake_settings: Settings, http: httpx.AsyncClient, retry: Retry
) -> None:
    keys = SecretStr(json.dumps({"access_key_id": st.ACCESS_KEY_ID,
                                 "secret_access_key": st.SECRET_ACCESS_KEY}))  # fmt: skip
    fakes.aws.throttle("sts:GetCallerIdentity", times=None)
    with pytest.raises(RateLimited, match=r"AWS is throttling requests \(Throttling\)"):
        await validate_key("aws", keys, settings=fake_settings, http=http, retry=retry)
    fakes.aws.op_faults.clear()
    fakes.aws.fail_op("sts:GetCallerIdentity", "InternalFailure", status=500, times=None)
    with pytest.raises(Upstream, match=r"AWS had a server error \(InternalFailure\)"):
        await validate_key("aws", keys, settings=fake_settings, http=http, retry=retry)
    fakes.aws.op_faults.clear()
    assert (await validate_key("aws", keys, settings=fake_settings, http=http, retry=retry)).ok
