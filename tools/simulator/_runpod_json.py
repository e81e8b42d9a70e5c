"""RunPod fake data: the GPU catalogue, and the JSON shapes of endpoint request URLs and
worker lists (as `runpod-rest-v2.openapi.json` requires them)."""

from __future__ import annotations

from typing import Any

_NOW = "2026-01-01T00:00:00Z"

# (id, name, pool, GB, serverless $/s per GPU) after docs references/gpu-types.mdx and
# snippets/serverless-gpu-pricing-table.mdx. The API quotes $/h, so prices are x3600.
GPU_CATALOG = [
    ("NVIDIA RTX A4000", "RTX A4000", "AMPERE_16", 16, 0.00016),
    ("NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada", "AMPERE_16", 20, 0.00016),
    ("NVIDIA L4", "L4", "AMPERE_24", 24, 0.00019),
    ("NVIDIA RTX A5000", "RTX A5000", "AMPERE_24", 24, 0.00019),
    ("NVIDIA GeForce RTX 3090", "RTX 3090", "AMPERE_24", 24, 0.00019),
    ("NVIDIA GeForce RTX 4090", "RTX 4090", "ADA_24", 24, 0.00031),
    ("NVIDIA RTX A6000", "RTX A6000", "AMPERE_48", 48, 0.00034),
    ("NVIDIA A40", "A40", "AMPERE_48", 48, 0.00034),
    ("NVIDIA L40S", "L40S", "ADA_48_PRO", 48, 0.00053),
    ("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", "ADA_48_PRO", 48, 0.00053),
    ("NVIDIA A100 80GB PCIe", "A100 PCIe", "AMPERE_80", 80, 0.00076),
    ("NVIDIA A100-SXM4-80GB", "A100 SXM", "AMPERE_80", 80, 0.00076),
    ("NVIDIA H100 80GB HBM3", "H100 SXM", "ADA_80_PRO", 80, 0.00116),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX PRO 6000", "BLACKWELL_96", 96, 0.00111),
    ("NVIDIA H200", "H200 SXM", "HOPPER_141", 141, 0.00155),
    ("NVIDIA B200", "B200", "BLACKWELL_180", 180, 0.00240),
    ("Tesla V100-SXM2-16GB", "V100 SXM2", None, 16, None),
]


def gpu_json(gid: str, name: str, pool: str | None, gb: int, per_s: float | None) -> dict[str, Any]:
    price: dict[str, Any] = {"secure": round(gb * 0.03, 2), "community": round(gb * 0.02, 2)}
    if per_s is not None:
        price["serverless"] = round(per_s * 3600, 4)
    return {"id": gid, "name": name, "pool": pool, "manufacturer": "NVIDIA", "memory": gb,
            "secure": True, "community": pool is not None, "price": price,
            "maxCount": {"secure": 8, "community": 4}}  # fmt: skip


def request_urls(jobs_url: str, eid: str) -> dict[str, str]:
    base = f"{jobs_url.rstrip('/')}/{eid}"
    return {"run": f"{base}/run", "runSync": f"{base}/runsync", "status": f"{base}/status/{{job_id}}",
            "stream": f"{base}/stream/{{job_id}}", "cancel": f"{base}/cancel/{{job_id}}",
            "retry": f"{base}/retry/{{job_id}}", "purgeQueue": f"{base}/purge-queue",
            "health": f"{base}/health"}  # fmt: skip


def workers_json(ep: Any, status: str) -> dict[str, Any]:
    count = max(1, ep.data["workers"]["min"]) if ep.data["workers"]["max"] > 0 else 0
    placed = status != "INITIALIZING"
    workers = [
        {"id": f"{ep.data['id']}-w{i}", "status": status, "isStale": False, "version": 1,
         "gpuCount": ep.data["gpu"]["count"], "image": ep.data["image"],
         "uptimeSeconds": 60 if placed else None, "gpuTypeId": "NVIDIA GeForce RTX 4090" if placed else None,
         "dataCenterId": "US-TX-3" if placed else None, "startedAt": _NOW if placed else None}
        for i in range(count)
    ]  # fmt: skip
    summary: dict[str, int] = dict.fromkeys(
        ("running", "idle", "initializing", "throttled", "unhealthy"), 0
    )
    summary[status.lower()] = count
    return {"workers": workers, "summary": {**summary, "total": count}, "endpointVersion": 1}
