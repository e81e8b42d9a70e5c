"""Where each AWS service is: every endpoint URL from the settings (`{region}` filled in per
call; the fakes override them), the region each is signed for, and KripTik's own keys.

```
AwsEndpoints.from_settings(s).url("sagemaker", "eu-west-1")
    -> https://api.sagemaker.eu-west-1.amazonaws.com
signing_region("iam", ...) -> "us-east-1"        operator_keys(s) -> AwsKeys | None
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tools.clients.aws_sdk import AwsKeys
from tools.clients.aws_sts import sts_region
from vault.settings import Settings

__all__ = ["AwsEndpoints", "AwsService", "operator_keys"]

AwsService = Literal[
    "sts",
    "iam",
    "sagemaker",
    "sagemaker-runtime",
    "ecr",
    "service-quotas",
    "pricing",
    "application-autoscaling",
    "cloudwatch",
]


@dataclass(frozen=True)
class AwsEndpoints:
    """Each service's URL (`{region}` is filled in per call), from the settings."""

    sts: str
    iam: str
    sagemaker: str
    sagemaker_runtime: str
    ecr: str
    service_quotas: str
    pricing: str
    application_autoscaling: str
    cloudwatch: str

    @classmethod
    def from_settings(cls, s: Settings) -> AwsEndpoints:
        return cls(
            sts=s.aws_sts_base_url,
            iam=s.aws_iam_base_url,
            sagemaker=s.aws_sagemaker_base_url,
            sagemaker_runtime=s.aws_sagemaker_runtime_base_url,
            ecr=s.aws_ecr_base_url,
            service_quotas=s.aws_service_quotas_base_url,
            pricing=s.aws_pricing_base_url,
            application_autoscaling=s.aws_application_autoscaling_base_url,
            cloudwatch=s.aws_cloudwatch_base_url,
        )

    def url(self, service: AwsService, region: str) -> str:
        template: str = getattr(self, service.replace("-", "_"))
        return template.replace("{region}", region)

    def signing_region(self, service: AwsService, region: str) -> str:
        """IAM is global (us-east-1); the price list lives where its URL says."""
        if service == "sts":
            return sts_region(self.sts)
        if service == "iam":
            return "us-east-1"
        if service == "pricing":
            found = re.search(r"api\.pricing\.([a-z0-9-]+)\.", self.pricing)
            return found.group(1) if found else "us-east-1"
        return region


def operator_keys(s: Settings) -> AwsKeys | None:
    """KripTik's own principal (the one that assumes users' roles), if configured."""
    if not (s.aws_operator_access_key_id and s.aws_operator_secret_access_key):
        return None
    return AwsKeys(
        access_key_id=s.aws_operator_access_key_id,
        secret_access_key=s.aws_operator_secret_access_key,
        session_token=s.aws_operator_session_token,
    )
