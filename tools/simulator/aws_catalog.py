"""SageMaker GPU instances as the AWS fake sells them: the Price List API's products (one
JSON string each, in the price list's own shape) and Service Quotas' "<type> for endpoint
usage" quotas, with the two handlers that serve them.

SIMULATOR DATA: the hourly prices are approximations of the published us-east-1
real-time inference prices (other regions at a markup); the quotas are what a fresh
account tends to have (single-GPU types allowed, 8-GPU types at 0 until the user asks).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tools.simulator.aws_state import AwsState
from tools.simulator.aws_wire import AwsError

__all__ = ["DEFAULT_QUOTAS", "INSTANCES", "REGIONS", "get_products", "get_service_quota",
           "list_service_quotas", "quota_code"]  # fmt: skip

# type -> (GPUs, GPU, GPU memory GiB each, vCPU, memory GiB, us-east-1 $/h for hosting)
INSTANCES: dict[str, tuple[int, str, int, int, int, float]] = {
    "ml.g4dn.xlarge": (1, "T4", 16, 4, 16, 0.736),
    "ml.g5.xlarge": (1, "A10G", 24, 4, 16, 1.408),
    "ml.g5.2xlarge": (1, "A10G", 24, 8, 32, 1.515),
    "ml.g5.12xlarge": (4, "A10G", 24, 48, 192, 7.09),
    "ml.g5.48xlarge": (8, "A10G", 24, 192, 768, 20.36),
    "ml.g6.xlarge": (1, "L4", 24, 4, 16, 1.0064),
    "ml.g6.12xlarge": (4, "L4", 24, 48, 192, 5.752),
    "ml.g6e.xlarge": (1, "L40S", 48, 4, 32, 2.3613),
    "ml.g6e.12xlarge": (4, "L40S", 48, 48, 384, 13.1203),
    "ml.p4d.24xlarge": (8, "A100", 40, 96, 1152, 37.688),
    "ml.p5.48xlarge": (8, "H100", 80, 192, 2048, 113.068),
}
REGIONS: dict[str, tuple[str, str, float]] = {  # code -> (location, usage prefix, markup)
    "us-east-1": ("US East (N. Virginia)", "USE1", 1.0),
    "us-west-2": ("US West (Oregon)", "USW2", 1.0),
    "eu-west-1": ("EU (Ireland)", "EU", 1.12),
    "eu-central-1": ("EU (Frankfurt)", "EUC1", 1.17),
}
DEFAULT_QUOTAS = {name: (2 if spec[0] == 1 else 0 if spec[0] == 8 else 1)
                  for name, spec in INSTANCES.items()}  # fmt: skip
# Not every type is sold everywhere: a region missing a type has no product or quota.
_NOT_IN = {"eu-central-1": {"ml.p5.48xlarge", "ml.g6e.12xlarge"}}


def quota_code(instance_type: str) -> str:
    return "L-" + hashlib.sha256(instance_type.encode()).hexdigest()[:8].upper()


def _offered(region: str) -> list[str]:
    return [t for t in INSTANCES if region in REGIONS and t not in _NOT_IN.get(region, set())]


def _product(instance_type: str, region: str, use: str) -> dict[str, Any]:
    """One price-list product: hosting ("Host"), training ("Train") or notebook ("Notebk")."""
    gpus, gpu, gpu_mem, vcpu, mem, usd = INSTANCES[instance_type]
    location, prefix, markup = REGIONS[region]
    factor = {"Host": 1.0, "Train": 1.04, "Notebk": 0.97}[use]
    sku = hashlib.sha256(f"{region}{instance_type}{use}".encode()).hexdigest()[:16].upper()
    term = f"{sku}.JRTCKXETXF"
    return {
        "product": {"productFamily": "ML Instance", "sku": sku, "attributes": {
            "servicecode": "AmazonSageMaker", "servicename": "Amazon SageMaker",
            "location": location, "locationType": "AWS Region", "regionCode": region,
            "instanceName": instance_type, "vCpu": str(vcpu), "memory": f"{mem} GiB",
            "gpu": str(gpus), "gpuMemory": f"{gpu_mem * gpus} GiB", "physicalGpu": gpu,
            "usagetype": f"{prefix}-{use}:{instance_type}", "operation": "RunInstance",
            "component": {"Host": "Hosting", "Train": "Training", "Notebk": "Notebook"}[use],
        }},
        "serviceCode": "AmazonSageMaker",
        "terms": {"OnDemand": {term: {
            "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
            "priceDimensions": {f"{term}.6YS6EN2CT7": {
                "rateCode": f"{term}.6YS6EN2CT7", "unit": "Hrs", "beginRange": "0",
                "endRange": "Inf", "appliesTo": [],
                "description": f"${usd * markup * factor:.4f} per {use} {instance_type} hour",
                "pricePerUnit": {"USD": f"{usd * markup * factor:.10f}"},
            }}, "termAttributes": {},
        }}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    }  # fmt: skip


def get_products(state: AwsState, params: dict[str, Any]) -> dict[str, Any]:
    """`pricing:GetProducts` for AmazonSageMaker, TERM_MATCH filters on attributes."""
    if params["ServiceCode"] != "AmazonSageMaker":
        return {"FormatVersion": "aws_v1", "PriceList": []}
    products = [_product(t, r, use) for r in REGIONS for t in _offered(r)
                for use in ("Host", "Train", "Notebk")]  # fmt: skip
    filters: list[dict[str, str]] = params.get("Filters") or []
    for f in filters:
        if f["Type"] != "TERM_MATCH":
            raise AwsError(
                "InvalidParameterException", f"the fake serves TERM_MATCH, not {f['Type']}"
            )
        products = [p for p in products
                    if str(p["product"]["attributes"].get(f["Field"], p["product"].get(f["Field"])))
                    == f["Value"]]  # fmt: skip
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 100)
    page = products[start : start + size]
    out: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(p) for p in page]}
    if start + size < len(products):
        out["NextToken"] = str(start + size)
    return out


def _quota(state: AwsState, region: str, instance_type: str) -> dict[str, Any]:
    code = quota_code(instance_type)
    return {
        "ServiceCode": "sagemaker", "ServiceName": "Amazon SageMaker",
        "QuotaArn": f"arn:aws:servicequotas:{region}:123456789012:sagemaker/{code}",
        "QuotaCode": code, "QuotaName": f"{instance_type} for endpoint usage",
        "Value": float(state.quotas.get(instance_type, DEFAULT_QUOTAS[instance_type])),
        "Unit": "None", "Adjustable": True, "GlobalQuota": False,
    }  # fmt: skip


def list_service_quotas(state: AwsState, region: str, params: dict[str, Any]) -> dict[str, Any]:
    rows = (
        [_quota(state, region, t) for t in _offered(region)]
        if params["ServiceCode"] == "sagemaker"
        else []
    )
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 100)
    out: dict[str, Any] = {"Quotas": rows[start : start + size]}
    if start + size < len(rows):
        out["NextToken"] = str(start + size)
    return out


def get_service_quota(state: AwsState, region: str, params: dict[str, Any]) -> dict[str, Any]:
    for t in _offered(region):
        if params["ServiceCode"] == "sagemaker" and quota_code(t) == params["QuotaCode"]:
            return {"Quota": _quota(state, region, t)}
    raise AwsError("NoSuchResourceException", f"The quota {params['QuotaCode']} does not exist.")
