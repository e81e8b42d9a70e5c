"""The recoveries the fault matrix relies on, one call at a time against the RunPod fake:
a create whose answer was lost is found by name (never made twice), and a 404 from an
update or a delete is read back before it is believed."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import SecretStr

from tests.faults.matrix import lose_answers
from tests.pipeline.fakes import DeployRunPodFake
from tools.clients._http import Retry
from tools.clients.errors import InvalidRequest, NotFound, Unreachable
from tools.clients.runpod import RunPodClient
from tools.clients.runpod_models import EndpointSpec, TemplateSpec
from tools.simulator.runpod import DEFAULT_KEY
from tools.simulator.server import ServedApp

SPEC = TemplateSpec(name="kriptik-lost", image="ghcr.io/acme/worker:1", env={"MODEL": "x"})


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[DeployRunPodFake, str]]:
    runpod = DeployRunPodFake()
    server = ServedApp(runpod, port=0)
    yield runpod, server.url
    server.stop()


@pytest.fixture
def fake(served: tuple[DeployRunPodFake, str]) -> Iterator[DeployRunPodFake]:
    served[0].reset()
    yield served[0]
    served[0].assert_clean()


@pytest.fixture
async def client(
    fake: DeployRunPodFake, served: tuple[DeployRunPodFake, str]
) -> AsyncIterator[RunPodClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield RunPodClient(
            http=http, base_url=served[1] + "/v2", token=SecretStr(DEFAULT_KEY),
            retry=Retry(sleep=_no_sleep, rng=random.Random(1)),
        )  # fmt: skip


def _endpoint(template_id: str) -> EndpointSpec:
    return EndpointSpec.model_validate(
        {"name": "kriptik-lost-ep", "template_id": template_id, "gpu_pools": ("ADA_24",)}
    )


async def test_a_create_whose_answer_is_lost_is_found_by_name(
    fake: DeployRunPodFake, client: RunPodClient
) -> None:
    undo = lose_answers(fake, "POST /v2/templates")
    template = await client.ensure_template(SPEC)
    undo()
    assert list(fake.state.templates) == [template.id]
    undo = lose_answers(fake, "POST /v2/serverless")
    endpoint = await client.ensure_endpoint(_endpoint(template.id))
    undo()
    assert [e.data["id"] for e in fake.state.endpoints.values()] == [endpoint.id]
    assert len(fake.calls_to("POST /v2/serverless")) == 1  # found, not created again
    undo = lose_answers(fake, "POST /v2/registries")
    found = await client.ensure_registry("kriptik-lost", username="u", password=SecretStr("p"))
    undo()
    assert list(fake.state.registries) == [found.id]


async def test_a_create_that_never_happened_fails_with_its_own_error(
    fake: DeployRunPodFake, client: RunPodClient
) -> None:
    fake.fail("POST /v2/templates", "drop")  # dropped before RunPod acted
    with pytest.raises(Unreachable):
        await client.ensure_template(SPEC)
    assert fake.state.templates == {}
    assert len(fake.calls_to("GET /v2/templates")) == 2  # before the create, and after it


async def test_a_refused_create_is_not_looked_up(
    fake: DeployRunPodFake, client: RunPodClient
) -> None:
    fake.fail("POST /v2/templates", 422)  # RunPod answered: nothing was made
    with pytest.raises(InvalidRequest):
        await client.ensure_template(SPEC)
    assert len(fake.calls_to("GET /v2/templates")) == 1 and fake.state.templates == {}


async def test_a_404_from_scaling_to_zero_is_read_back(
    fake: DeployRunPodFake, client: RunPodClient
) -> None:
    template = await client.create_template(SPEC)
    endpoint = await client.create_endpoint(_endpoint(template.id))
    fake.fail("PATCH /v2/serverless/{id}", 404)
    assert await client.scale_to_zero(endpoint.id) is True
    assert fake.state.endpoints[endpoint.id].data["workers"]["max"] == 0
    fake.fail("PATCH /v2/serverless/{id}", 404, times=2)  # RunPod keeps saying 404: say so
    with pytest.raises(NotFound):
        await client.scale_to_zero(endpoint.id)
    assert await client.delete_endpoint(endpoint.id) is True
    assert await client.scale_to_zero(endpoint.id) is False  # really gone


async def test_a_404_from_a_delete_is_read_back(
    fake: DeployRunPodFake, client: RunPodClient
) -> None:
    template = await client.create_template(SPEC)
    endpoint = await client.create_endpoint(_endpoint(template.id))
    await client.scale_to_zero(endpoint.id)
    fake.fail("DELETE /v2/serverless/{id}", 404)
    assert await client.delete_endpoint(endpoint.id) is True
    assert fake.state.endpoints == {}
    fake.fail("DELETE /v2/templates/{id}", 404)
    assert await client.delete_template(template.id) is True
    assert fake.state.templates == {}
    assert await client.delete_template(template.id) is False
