"""The STS fake's names, kept for the tests and `kriptik fakes serve` that use them: STS is
now one of the services of the AWS fake (`tools.simulator.aws.AwsFake`), which checks
every SigV4 signature with botocore and answers STS's XML `ErrorResponse`."""

from __future__ import annotations

from tools.simulator.aws import AwsFake
from tools.simulator.aws_state import ACCESS_KEY_ID, SECRET_ACCESS_KEY, AwsAccount

__all__ = ["ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "AwsAccount", "AwsStsFake"]

AwsStsFake = AwsFake
