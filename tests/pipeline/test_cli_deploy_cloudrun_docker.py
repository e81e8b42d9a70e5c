"""`kriptik deploy REPO --target cloudrun` from the terminal, end to end: the composition root
builds the Cloud Run target, the worker image is really built by dockerd (the stub worker on
the local base image, as the other docker tests build it) and pushed with auth to the local
registry that `--registry` names, the service is created at the Cloud Run fake from that
image, the smoke test goes through the service URL with a minted identity token, and
`kriptik deployments teardown` leaves zero services.

Its own module: the in-process commands launch the pipeline (DBOS, one per process)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from tests.artifacts import worker_image as wi
from tests.pipeline.conftest import settings_for
from tests.pipeline.target_services import add_admin_with_keys
from tests.resilience.processes import host_env
from tools.pipeline import images as images_module
from tools.simulator.all import FakeStack
from ui.cli import main
from vault import get_settings

pytestmark = pytest.mark.docker
TINY = "kriptik-test/tiny-llama"


def test_deploy_to_cloud_run_from_the_terminal_then_tear_it_down(
    stack: FakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    docker = wi.docker_services()
    base = wi.base_image(docker)
    stack.reset()
    settings = settings_for(tmp_path / "home", stack)
    asyncio.run(add_admin_with_keys(settings, stack.google_oauth.state.new_service_account()))
    for name, value in host_env(settings).items():
        if name.startswith("KRIPTIK_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("KRIPTIK_GOOGLE_OAUTH_TOKEN_URL", settings.google_oauth_token_url)
    get_settings.cache_clear()

    # The one seam: the CLI's engine builds the stub worker on the local base image (no
    # base image can be pulled here); everything else is the product's own path.
    def stub_engine(*, docker_cli: Path, docker_host: str | None = None) -> wi.StubImageService:
        return wi.StubImageService(
            docker_cli=wi.DOCKER_CLI, docker_host=docker_host or docker.docker_host,
            base_image=base,
        )  # fmt: skip

    monkeypatch.setattr(images_module, "ImageService", stub_engine)
    monkeypatch.setattr("sys.stdin", io.StringIO(docker.password))  # the registry password
    argv = [
        "deploy", TINY, "--target", "cloudrun", "--region", "europe-west1", "--yes-i-approve",
        "--docker-host", docker.docker_host, "--registry", f"{docker.registry}/kriptik",
        "--registry-user", docker.username,
    ]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    [service] = stack.cloudrun.services.values()
    assert service.location == "europe-west1"
    image = service.body["template"]["containers"][0]["image"]
    assert image.startswith(f"{docker.registry}/kriptik/"), image
    assert "Ready" in out and "europe-west1" in out, out
    assert docker.password not in out

    assert main(["deployments", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["state"] == "ready"
    assert main(["deployments", "teardown", listed["id"]]) == 0
    assert stack.cloudrun.services == {}
    get_settings.cache_clear()
    stack.assert_clean()
