"""DockerEngineClient against a real dockerd and a registry with htpasswd auth.

Images are built FROM scratch (nothing to pull) and are a few bytes, so the whole module
takes seconds. Without dockerd these tests skip, unless KRIPTIK_REQUIRE_SERVICES is set.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.services.docker import DockerServices
from tools.clients.docker_engine import DockerEngineClient, ProgressEvent
from tools.clients.errors import AuthError, BuildFailed, NotFound, Unreachable

pytestmark = pytest.mark.docker


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "hello.txt").write_text(f"hello {uuid.uuid4()}\n")  # a fresh image each test
    (tmp_path / "Dockerfile").write_text('FROM scratch\nCOPY hello.txt /\nCMD ["/hello"]\n')
    return tmp_path


@pytest.fixture
def engine(docker_services: DockerServices) -> Iterator[DockerEngineClient]:
    client = DockerEngineClient(base_url=docker_services.docker_host, timeout_s=60)
    yield client
    client.close()


async def test_build_tag_push_and_push_again(
    engine: DockerEngineClient,
    docker_services: DockerServices,
    context: Path,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    events: list[ProgressEvent] = []
    repo = f"{docker_services.registry}/kriptik/hello-{uuid.uuid4().hex[:8]}"
    image = await engine.build(context, tag=f"{repo}:build", on_progress=events.append)
    assert image.id.startswith("sha256:")
    assert any(
        e.stage == "build" and e.message.startswith("Step 2/3 : COPY hello.txt /") for e in events
    )
    await engine.tag(image.id, f"{repo}:1.0")
    password = SecretStr(docker_services.password)
    pushed = await engine.push(
        f"{repo}:1.0",
        username=docker_services.username,
        password=password,
        on_progress=events.append,
    )
    assert pushed.digest is not None and pushed.digest.startswith("sha256:")
    assert any(e.stage == "push" for e in events)
    again = await engine.push(f"{repo}:1.0", username=docker_services.username, password=password)
    assert again.digest == pushed.digest  # a re-push uploads nothing new
    assert docker_services.password not in all_logs.text


async def test_push_with_wrong_credentials_is_an_auth_error(
    engine: DockerEngineClient,
    docker_services: DockerServices,
    context: Path,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    repo = f"{docker_services.registry}/kriptik/denied"
    await engine.build(context, tag=f"{repo}:1")
    planted = "PLANTED-registry-password-000"
    with pytest.raises(AuthError) as caught:
        await engine.push(
            f"{repo}:1", username=docker_services.username, password=SecretStr(planted)
        )
    assert str(caught.value).startswith(
        f"The registry {docker_services.registry} refused the credentials for {repo}:1"
    )
    assert str(caught.value).endswith(
        "Check the username and the password or token (it needs push rights), then paste them here."
    )
    with pytest.raises(AuthError):
        await engine.push(f"{repo}:1")  # no credentials at all
    assert planted not in " ".join([str(caught.value), repr(caught.value), all_logs.text])


async def test_a_failing_step_is_named(engine: DockerEngineClient, context: Path) -> None:
    (context / "Dockerfile").write_text("FROM scratch\nCOPY missing.txt /\n")
    with pytest.raises(BuildFailed) as caught:
        await engine.build(context, tag="kriptik/broken:1")
    message = str(caught.value)
    assert message.startswith("The image did not build: Step 2/2 : COPY missing.txt / failed: ")
    assert "missing.txt" in message.split("failed: ", 1)[1]
    assert message.endswith("Fix the Dockerfile (or the files it copies), then build again.")


async def test_a_bad_dockerfile_and_a_missing_image(
    engine: DockerEngineClient, context: Path
) -> None:
    (context / "Dockerfile").write_text("FROMM scratch\n")
    with pytest.raises(BuildFailed, match="FROMM"):
        await engine.build(context, tag="kriptik/broken:2")
    with pytest.raises(NotFound, match="The Docker engine has no image sha256:0000"):
        await engine.tag("sha256:" + "0" * 64, "kriptik/none:1")


async def test_no_engine_is_unreachable(tmp_path: Path) -> None:
    engine = DockerEngineClient(base_url=f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(Unreachable) as caught:
        await engine.build(tmp_path, tag="x:1")
    assert str(caught.value) == (
        f"Could not reach the Docker engine at unix://{tmp_path}/nothing.sock. Start Docker (or point DOCKER_HOST "
        "at a running engine), then try again."
    )
