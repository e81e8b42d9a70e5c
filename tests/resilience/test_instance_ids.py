"""Each instance runs deployments under its own DBOS executor id (`KRIPTIK_INSTANCE_ID`).

DBOS recovers, at start, the pending workflows of the executor id it is given. Instances
that share an id share that list: restarting one re-queues the deployments another is in
the middle of running, and a second executor then runs the same steps at the same time
(two `ensure_endpoint` calls can both find nothing and both create)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.conftest import new_master_key
from vault import Settings


async def test_serve_runs_deployments_under_its_instance_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.root import Root

    launched: list[dict[str, Any]] = []

    async def launch(pipeline_services: Any, **kwargs: Any) -> None:
        launched.append(kwargs)

    monkeypatch.setattr("tools.pipeline.launch", launch)
    settings = Settings(home=tmp_path, master_key=SecretStr(new_master_key()), instance_id="web-2")
    root = await Root.open(settings)
    root.launch_in_background()  # as the chat app launches it at start-up
    await root.pipeline.settled()
    await root.close()
    assert launched and launched[0].get("executor_id") == "web-2"


def test_instance_ids_are_checked() -> None:
    assert Settings(instance_id="web-2.eu_1").instance_id == "web-2.eu_1"
    with pytest.raises(ValueError, match="instance_id"):
        Settings(instance_id="web 2; drop table")
