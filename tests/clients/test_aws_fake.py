"""The AWS fake itself, called with plain boto3: every request is checked against
botocore's own service model and its SigV4 signature, and answered with AWS's own codes."""

from __future__ import annotations

import json
from typing import Any

import boto3.session  # pyright: ignore[reportMissingTypeStubs]
import pytest
from botocore.config import Config  # pyright: ignore[reportMissingTypeStubs]
from botocore.exceptions import ClientError  # pyright: ignore[reportMissingTypeStubs]

from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack


def _client(fakes: FakeStack, service: str, *, key: str = st.ACCESS_KEY_ID,
            secret: str = st.SECRET_ACCESS_KEY, validate: bool = True) -> Any:  # fmt: skip
    config = Config(retries={"total_max_attempts": 1}, parameter_validation=validate)
    return boto3.session.Session().client(  # pyright: ignore[reportUnknownMemberType]
        service, region_name="us-east-1", endpoint_url=fakes.url("aws"), config=config,
        aws_access_key_id=key, aws_secret_access_key=secret,
    )  # fmt: skip


def _add_unknown_member(request: Any, **_: Any) -> None:
    """botocore refuses to send an unknown member, so it is added after serialising."""
    request.data = json.dumps(json.loads(request.data or b"{}") | {"Extra": 1}).encode()


def _code(call: Any, **params: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response  # pyright: ignore[reportUnknownMemberType]
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_requests_are_checked_against_botocores_service_model(fakes: FakeStack) -> None:
    sm = _client(fakes, "sagemaker", validate=False)  # let bad input reach the fake
    assert _code(sm.describe_endpoint, EndpointName="bad_name") == ("ValidationException", 400)
    sm.meta.events.register("before-sign.sagemaker.ListModels", _add_unknown_member)
    assert _code(sm.list_models) == ("ValidationException", 400)
    assert _code(sm.create_endpoint, EndpointName="kriptik-e") == ("ValidationException", 400)
    assert _code(sm.list_endpoints, SortOrder="Sideways") == ("ValidationException", 400)
    found = fakes.aws.violations
    fakes.aws.violations = []
    assert found == [
        "sagemaker:DescribeEndpoint: DescribeEndpointInput.EndpointName: 'bad_name' does not match the pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
        "sagemaker:ListModels: ListModelsInput: unknown member 'Extra'",
        "sagemaker:CreateEndpoint: CreateEndpointInput: missing required member 'EndpointConfigName'",
        "sagemaker:ListEndpoints: ListEndpointsInput.SortOrder: 'Sideways' is not one of ['Ascending', 'Descending']",
    ]
    assert _code(_client(fakes, "sagemaker").delete_model, ModelName="kriptik-none") == (
        "ValidationException",
        400,
    )  # SageMaker's "Could not find model": not a contract violation


def test_signatures_are_recomputed_and_wrong_keys_get_awss_codes(fakes: FakeStack) -> None:
    sts = _client(fakes, "sts")
    assert sts.get_caller_identity()["Account"] == st.USER_ACCOUNT
    assert _code(_client(fakes, "sts", secret="x" * 40).get_caller_identity) == (
        "SignatureDoesNotMatch",
        403,
    )
    assert _code(_client(fakes, "sts", key="AKIAUNKNOWN000000000").get_caller_identity) == (
        "InvalidClientTokenId",
        403,
    )
    assert _code(_client(fakes, "ecr", secret="x" * 40).get_authorization_token) == (
        "InvalidSignatureException",
        403,
    )
    assert _code(_client(fakes, "ecr", key="AKIAUNKNOWN000000000").get_authorization_token) == (
        "UnrecognizedClientException",
        400,
    )


def test_assume_role_checks_trust_and_external_id_and_sessions_expire(fakes: FakeStack) -> None:
    operator = _client(fakes, "sts", key=st.OPERATOR_KEY_ID, secret=st.OPERATOR_SECRET)
    params = {"RoleArn": st.ROLE_ARN, "RoleSessionName": "kriptik-t"}
    assert _code(operator.assume_role, **params, ExternalId="kriptik-wrong0id") == (
        "AccessDenied",
        403,
    )
    assert _code(operator.assume_role, **params) == ("AccessDenied", 403)  # no external id
    assert _code(_client(fakes, "sts").assume_role, **params, ExternalId=st.EXTERNAL_ID) == (
        "AccessDenied",
        403,
    )  # the user's own key is not the principal the role trusts
    creds = operator.assume_role(**params, ExternalId=st.EXTERNAL_ID)["Credentials"]
    session = boto3.session.Session(  # pyright: ignore[reportUnknownMemberType]
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).client("sagemaker", region_name="us-east-1", endpoint_url=fakes.url("aws"))  # fmt: skip
    assert session.list_endpoints()["Endpoints"] == []
    fakes.aws.expire_sessions()
    assert _code(session.list_endpoints) == ("ExpiredTokenException", 400)


def test_throttling_has_the_real_error_shape_per_protocol(fakes: FakeStack) -> None:
    fakes.aws.throttle("sts:GetCallerIdentity")
    fakes.aws.throttle("pricing:GetProducts")
    assert _code(_client(fakes, "sts").get_caller_identity) == ("Throttling", 400)
    assert _code(_client(fakes, "pricing").get_products, ServiceCode="AmazonSageMaker") == (
        "ThrottlingException",
        400,
    )


def test_quotas_by_code_repositories_and_the_runtime_answer_as_aws_does(fakes: FakeStack) -> None:
    quotas = _client(fakes, "service-quotas")
    listed = quotas.list_service_quotas(ServiceCode="sagemaker", MaxResults=3)
    assert len(listed["Quotas"]) == 3 and listed["NextToken"]
    code = listed["Quotas"][0]["QuotaCode"]
    one = quotas.get_service_quota(ServiceCode="sagemaker", QuotaCode=code)["Quota"]
    assert one == listed["Quotas"][0]
    assert _code(quotas.get_service_quota, ServiceCode="sagemaker", QuotaCode="L-00000000") == (
        "NoSuchResourceException",
        400,
    )
    ecr = _client(fakes, "ecr")
    assert _code(ecr.describe_repositories, repositoryNames=["kriptik-none"]) == (
        "RepositoryNotFoundException",
        400,
    )
    ecr.create_repository(repositoryName="kriptik-r")
    fakes.aws.push_image("us-east-1", "kriptik-r", "v1")
    assert _code(ecr.delete_repository, repositoryName="kriptik-r") == (
        "RepositoryNotEmptyException",
        400,
    )
    runtime = _client(fakes, "sagemaker-runtime")
    assert _code(runtime.invoke_endpoint, EndpointName="kriptik-none", Body=b"{}") == (
        "ValidationError",
        400,
    )
    assert fakes.aws.state.resources() == {
        "repository": ["us-east-1/kriptik-r"],
        "image": [f"us-east-1/kriptik-r@{_digest(fakes)}"],
    }


def _digest(fakes: FakeStack) -> str:
    return next(iter(fakes.aws.state.repositories[("us-east-1", "kriptik-r")].images))
