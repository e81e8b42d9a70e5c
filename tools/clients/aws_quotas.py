"""The account's SageMaker endpoint quotas (Service Quotas): how many instances of a type
the user's account may run in a region, checked before an instance type is proposed.

```
AwsQuotasClient(session).endpoint_quota("ml.g5.xlarge")
    -> InstanceQuota(instance_type, code, value, adjustable, request_url) | None
```

SageMaker names each quota "<instance type> for endpoint usage" (codes differ per type),
so the quotas are listed once per client and looked up by name. A value of 0 means the
account cannot run that type at all until the user asks for more at `request_url`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from tools.clients.aws_errors import quotas_url
from tools.clients.aws_session import AwsSession

__all__ = ["AwsQuotasClient", "InstanceQuota"]


@dataclass(frozen=True)
class InstanceQuota:
    instance_type: str
    code: str
    value: float
    adjustable: bool
    request_url: str

    @property
    def allows_one(self) -> bool:
        return self.value >= 1


class AwsQuotasClient:
    """Service Quotas for SageMaker, in the session's region."""

    def __init__(self, session: AwsSession) -> None:
        self._s = session
        self._by_name: dict[str, dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"AwsQuotasClient(region={self._s.region!r})"

    async def endpoint_quota(self, instance_type: str) -> InstanceQuota | None:
        """The quota on `instance_type` endpoint instances; None when SageMaker lists none."""
        row = (await self._quotas()).get(f"{instance_type} for endpoint usage")
        if row is None:
            return None
        code = str(row.get("QuotaCode", ""))
        return InstanceQuota(
            instance_type=instance_type,
            code=code,
            value=float(row.get("Value") or 0),
            adjustable=bool(row.get("Adjustable")),
            request_url=f"{quotas_url(self._s.region)}/{code}",
        )

    async def _quotas(self) -> dict[str, dict[str, Any]]:
        if self._by_name is None:
            params: dict[str, object] = {"ServiceCode": "sagemaker", "MaxResults": 100}
            rows: list[dict[str, Any]] = []
            while True:
                out = await self._s.call(
                    "service-quotas",
                    "list_service_quotas",
                    params,
                    what="the SageMaker quotas",
                    idempotent=True,
                )
                rows += cast("list[dict[str, Any]]", out.get("Quotas") or [])
                if not out.get("NextToken"):
                    break
                params["NextToken"] = out["NextToken"]
            self._by_name = {str(r.get("QuotaName")): r for r in rows}
        return self._by_name
