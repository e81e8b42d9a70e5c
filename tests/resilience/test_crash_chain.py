"""SIGKILL at every step boundary of the deployment workflow, restart, and the deployment
ends complete with exactly one of each resource.

One deployment is killed at each boundary in turn and restarted each time (DBOS recovers
it from its last recorded step, under the same executor id): every boundary of
tests/pipeline/crashes.py, just after a step's side effect at the provider (the step runs
again and must find what it made) and just after DBOS records a step, through the ready
record. Thirteen processes, twelve kills, one deployment; then the checks: ready, one
template and one endpoint, each created once, every stage reported once, the record
naming them all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.pipeline.crashes import (
    ENDPOINT_BOUNDARIES,
    ENDPOINT_STAGES,
    crashes,
    fork_server,
)
from tests.pipeline.fakes import DeployRunPodFake
from tests.resilience.processes import ForkServer
from tools.simulator.all import FakeStack


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ForkServer]:
    async with fork_server(tmp_path_factory.mktemp("crash-chain")) as running:
        yield running


async def test_a_kill_at_every_step_boundary_still_ends_with_one_of_each(
    server: ForkServer, tmp_path: Path, database_url: str
) -> None:
    """On SQLite and on PostgreSQL (`database_url`; DBOS's system database follows it)."""
    stack = FakeStack(runpod=DeployRunPodFake()).start()
    try:
        async with crashes(server, stack, tmp_path, database_url) as app:
            deployed = await app.deploy(await app.new_user(), ENDPOINT_BOUNDARIES)
            app.assert_one_of_each(deployed, ENDPOINT_STAGES)
        stack.assert_clean()
    finally:
        stack.stop()
