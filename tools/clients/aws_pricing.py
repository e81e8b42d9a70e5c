"""SageMaker instance prices from the AWS Price List API (`pricing:GetProducts`), kept
with their date and source, and a cache that reuses them for a week.

```
AwsPricingClient(session).hosting_price("ml.g5.xlarge", region="us-east-1")
    -> InstancePrice(usd_per_hour, as_of, source, sku) | None   (None: not sold there)
CachedSageMakerPrices(client, path, clock=).price(instance_type, region)   7 days, JSON file
```

The price list answers one JSON document per product, as a string (`PriceList`). A
SageMaker instance type has several products (real-time hosting, training, notebooks,
batch, asynchronous inference ...); the real-time endpoint's is the one whose usage type
is `<region code>-Host:<instance type>`, priced on demand per hour.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from tools.clients._http import utcnow
from tools.clients.aws_session import AwsSession

__all__ = ["AwsPricingClient", "CachedSageMakerPrices", "InstancePrice", "hosting_offer"]

_HOSTING = re.compile(r"(?:^|-)Host:(ml\.[a-z0-9.-]+)$")


@dataclass(frozen=True)
class InstancePrice:
    """What one instance of a type costs on a real-time endpoint, and where that came from."""

    instance_type: str
    region: str
    usd_per_hour: float
    as_of: datetime
    source: str
    sku: str


def hosting_offer(product: dict[str, Any], instance_type: str) -> tuple[str, float] | None:
    """(sku, $/h) when `product` is the on-demand real-time hosting price of the type."""
    info = _obj(product.get("product"))
    found = _HOSTING.search(str(_obj(info.get("attributes")).get("usagetype", "")))
    if found is None or found.group(1) != instance_type:
        return None
    for term in _obj(_obj(product.get("terms")).get("OnDemand")).values():
        for dim in _obj(_obj(term).get("priceDimensions")).values():
            usd = _obj(_obj(dim).get("pricePerUnit")).get("USD")
            if _obj(dim).get("unit") == "Hrs" and usd is not None and float(str(usd)) > 0:
                return str(info.get("sku", "")), float(str(usd))
    return None


def _obj(value: object) -> dict[str, object]:
    return cast("dict[str, object]", value) if isinstance(value, dict) else {}


class AwsPricingClient:
    """The AWS Price List API (us-east-1's endpoint serves every region's prices)."""

    def __init__(self, session: AwsSession, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._s, self._clock = session, clock

    def __repr__(self) -> str:
        return "AwsPricingClient()"

    async def hosting_price(self, instance_type: str, *, region: str) -> InstancePrice | None:
        """The on-demand $/h of one `instance_type` endpoint instance in `region`."""
        params: dict[str, object] = {
            "ServiceCode": "AmazonSageMaker",
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
            "Filters": [
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
            ],
        }
        while True:
            out = await self._s.call(
                "pricing",
                "get_products",
                params,
                idempotent=True,
                what=f"the price of {instance_type} in {region}",
            )
            for raw in cast("list[Any]", out.get("PriceList") or []):
                product = cast("dict[str, Any]", json.loads(raw) if isinstance(raw, str) else raw)
                if offer := hosting_offer(product, instance_type):
                    return InstancePrice(
                        instance_type,
                        region,
                        offer[1],
                        self._clock(),
                        f"AWS Price List API (AmazonSageMaker, {region})",
                        offer[0],
                    )
            if not out.get("NextToken"):
                return None
            params["NextToken"] = out["NextToken"]


class CachedSageMakerPrices:
    """Prices kept in a JSON file with their date, reused for up to `max_age`."""

    def __init__(
        self,
        client: AwsPricingClient,
        path: Path,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_age: timedelta = timedelta(days=7),
    ) -> None:
        self._client, self._path, self._clock, self._max_age = client, path, clock, max_age

    async def price(self, instance_type: str, region: str) -> InstancePrice | None:
        key = f"{region}/{instance_type}"
        cached = self._read().get(key)
        if cached is not None and self._clock() - cached.as_of <= self._max_age:
            return cached
        fresh = await self._client.hosting_price(instance_type, region=region)
        if fresh is not None:
            rows = {k: _row(v) for k, v in self._read().items()} | {key: _row(fresh)}
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._path.write_text(json.dumps(rows, indent=1, sort_keys=True))
        return fresh

    def _read(self) -> dict[str, InstancePrice]:
        try:
            rows = cast("dict[str, dict[str, Any]]", json.loads(self._path.read_text()))
            return {k: _price(v) for k, v in rows.items()}
        except (OSError, ValueError, TypeError, KeyError):
            return {}  # no file yet, or an unreadable one: ask the price list again


def _row(price: InstancePrice) -> dict[str, Any]:
    return asdict(price) | {"as_of": price.as_of.isoformat()}


def _price(row: dict[str, Any]) -> InstancePrice:
    return InstancePrice(
        instance_type=str(row["instance_type"]),
        region=str(row["region"]),
        usd_per_hour=float(row["usd_per_hour"]),
        as_of=datetime.fromisoformat(row["as_of"]),
        source=str(row["source"]),
        sku=str(row["sku"]),
    )
