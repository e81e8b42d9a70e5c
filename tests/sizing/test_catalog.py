"""The packaged GPU table and its refresh from RunPod's live catalog."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import jsonschema
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.runpod import RunPodClient
from tools.simulator._contract import load_spec
from tools.simulator.runpod import DEFAULT_KEY, RunPodFake
from tools.simulator.server import serve
from tools.sizing import SizingError, catalog_from_runpod, load_catalog

REFERENCE_POOLS = {
    "AMPERE_16", "AMPERE_24", "ADA_24", "AMPERE_48", "ADA_48_PRO", "AMPERE_80", "ADA_80_PRO",
    "HOPPER_141",
}  # fmt: skip


def _gpu(gid: str, pool: str | None, memory: int, per_hour: float | None) -> dict[str, Any]:
    price: dict[str, Any] = {"secure": 0.44, "community": 0.31}
    if per_hour is not None:
        price["serverless"] = per_hour
    return {"id": gid, "name": gid.split()[-1], "pool": pool, "manufacturer": "NVIDIA",
            "memory": memory, "secure": True, "community": True, "price": price,
            "maxCount": {"secure": 8, "community": 4}}  # fmt: skip


LIVE = {
    "gpus": [
        _gpu("NVIDIA GeForce RTX 4090", "ADA_24", 24, 1.1),  # the spec's own example
        _gpu("NVIDIA L40S", "ADA_48_PRO", 48, 1.9),
        _gpu("NVIDIA Future 64GB", "FUTURE_64", 64, 1.44),
        _gpu("Tesla V100-SXM2-16GB", None, 16, None),  # not serverless
    ]
}


def _validate_against_spec(body: dict[str, Any]) -> None:
    spec = load_spec("runpod-rest-v2.openapi.json")
    schema = {"$ref": "#/components/schemas/ListGpuTypesResponse", "components": spec["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


def test_packaged_table_is_dated_and_covers_the_documented_pools() -> None:
    catalog = load_catalog()
    assert catalog.as_of == date(2026, 2, 12)
    assert REFERENCE_POOLS <= {p.id for p in catalog.pools}
    ada24 = catalog.pool("ADA_24")
    assert ada24 is not None and ada24.flex_usd_per_s == pytest.approx(0.00031)
    # A worker may land on any card of a pool: the L4 (22.5 GiB) bounds AMPERE_24.
    ampere24 = catalog.pool("AMPERE_24")
    assert ampere24 is not None and ampere24.usable_bytes == 23034 * (1 << 20)
    assert all(p.active_usd_per_s is None or p.active_usd_per_s < p.flex_usd_per_s
               for p in catalog.pools)  # fmt: skip


def test_live_catalog_prices_pools_and_keeps_known_usable_memory() -> None:
    _validate_against_spec(LIVE)
    catalog = catalog_from_runpod(LIVE, as_of=date(2026, 11, 1))
    assert catalog.as_of == date(2026, 11, 1)
    assert {p.id for p in catalog.pools} == {"ADA_24", "ADA_48_PRO", "FUTURE_64"}
    ada24 = catalog.pool("ADA_24")
    assert ada24 is not None
    assert ada24.flex_usd_per_s == pytest.approx(1.1 / 3600)
    assert ada24.active_usd_per_s == pytest.approx(0.00021)  # from the packaged table
    future = catalog.pool("FUTURE_64")
    assert future is not None and future.active_usd_per_s is None
    assert future.usable_bytes < 64 * (1 << 30)  # derated: cards report less than marketed


def test_a_malformed_entry_is_skipped_and_an_empty_catalog_refused() -> None:
    broken = copy.deepcopy(LIVE)
    broken["gpus"].append({"id": "x", "memory": "lots"})
    assert len(catalog_from_runpod(broken, as_of=date(2026, 11, 1)).pools) == 3
    with pytest.raises(SizingError, match="no priced serverless pools"):
        catalog_from_runpod({"gpus": [_gpu("a", None, 16, None)]}, as_of=date(2026, 11, 1))
    with pytest.raises(SizingError, match="no 'gpus' list"):
        catalog_from_runpod({"error": "nope"}, as_of=date(2026, 11, 1))


@pytest.fixture
async def runpod() -> AsyncIterator[RunPodClient]:
    fake = RunPodFake()
    with serve(fake) as url:
        async with httpx.AsyncClient() as http:
            yield RunPodClient(
                http=http, base_url=f"{url}/v2", token=SecretStr(DEFAULT_KEY),
                retry=Retry(max_attempts=1),
            )  # fmt: skip
        fake.assert_clean()


async def test_refresh_from_the_runpod_client_against_the_fake(runpod: RunPodClient) -> None:
    gpus = await runpod.gpu_types()
    catalog = catalog_from_runpod(gpus, as_of=date(2026, 11, 1))
    h100 = catalog.pool("ADA_80_PRO")
    assert h100 is not None
    assert h100.flex_usd_per_s == pytest.approx(0.00116)
    assert [t.id for t in h100.gpu_types] == ["NVIDIA H100 80GB HBM3"]
    assert all(t.id != "Tesla V100-SXM2-16GB" for p in catalog.pools for t in p.gpu_types)
    assert "HOPPER_141" in {p.id for p in catalog.pools}
