"""SIGKILL the process at every step boundary of the deployment workflow, start it again,
and the deployment completes with exactly one of each resource.

Each test is one deployment, killed once at its boundary (listed in
tests/pipeline/crashes.py: just after a step's side effect at the provider, and just after
DBOS records a step), then resumed by a new process under the same executor id. The
prebuilt vLLM path runs through the smoke test to the ready record. The generated-worker path (a real Docker engine and
registry) is killed at each of its image and registry-credential boundaries in turn.

These run on SQLite; tests/resilience/test_crash_chain.py runs every boundary on
PostgreSQL too (and on SQLite, one deployment killed at all of them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.artifacts import worker_image as wi
from tests.pipeline.crash_child import Boundary
from tests.pipeline.crashes import (
    DIFFUSION,
    ENDPOINT_BOUNDARIES,
    ENDPOINT_STAGES,
    IMAGE_BOUNDARIES,
    IMAGE_STAGES,
    Crashes,
    crashes,
    drop_image,
    fork_server,
)
from tools.simulator.all import FakeStack


@pytest.fixture(scope="module")
async def app(stack: FakeStack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Crashes]:
    """One app for the module: its SQLite database, a user per test, a fork server."""
    home = tmp_path_factory.mktemp("crash")
    async with (
        fork_server(home) as server,
        crashes(server, stack, home, f"sqlite+aiosqlite:///{home / 'kriptik.db'}") as running,
    ):
        yield running


@pytest.mark.parametrize("boundary", ENDPOINT_BOUNDARIES, ids=str)
async def test_a_deployment_killed_at_a_step_boundary_completes_with_one_of_each(
    app: Crashes, fakes: FakeStack, boundary: Boundary
) -> None:
    deployed = await app.deploy(await app.new_user(), [boundary])
    app.assert_one_of_each(deployed, ENDPOINT_STAGES)


@pytest.fixture(scope="module")
def docker() -> Iterator[wi.DockerEnv]:
    yield from wi.docker_env()


@pytest.mark.docker
async def test_a_generated_worker_killed_at_each_image_step_ends_with_one_image(
    app: Crashes, fakes: FakeStack, docker: wi.DockerEnv
) -> None:
    services = docker.services
    deployed = await app.deploy(
        await app.new_user(github_key=False), IMAGE_BOUNDARIES, repo_id=DIFFUSION,
        docker={"host": services.docker_host, "base_image": docker.base_image,
                "registry": services.registry, "username": services.username,
                "password": services.password},
    )  # fmt: skip
    try:
        app.assert_one_of_each(deployed, IMAGE_STAGES)
        await app.assert_one_image(deployed, docker.login)
    finally:
        await drop_image(deployed.view, docker)
