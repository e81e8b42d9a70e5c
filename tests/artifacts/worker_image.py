"""Real-Docker helpers shared by the worker-image tests and the pipeline's docker test: the
local debootstrap base image, a served Hugging Face fake that demands a token, a worker
whose pipeline is a stub, and an `ImageService` that builds that stub.

The stub keeps the generated Dockerfile, handler.py, fetch_weights.py and test_input.json
exactly as rendered; only pipeline.py (the model code) and requirements.txt (torch and
friends) are swapped, so a build needs seconds and no GPU.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from tests.artifacts.conftest import STUB_PIPELINE
from tests.conftest import need_service
from tests.services import docker as docker_module
from tests.services.docker import DockerServices
from tools.pipeline.images import ImageService, OnLine
from tools.pipeline.services import RegistryLogin
from tools.simulator.huggingface import DEFAULT_TOKEN, HfUser, HuggingFaceFake
from tools.simulator.server import ServedApp

REPO = Path(__file__).resolve().parents[2]
DOCKER_CLI = Path("/usr/bin/docker")
GATED = "kriptik-test/gated-llama"
# What the handler imports besides the stub: runpod, and huggingface_hub for the weights.
STUB_REQUIREMENTS = "runpod==1.12.0\nhuggingface_hub==2.4.0\n"
# The build host's extra CA (an egress proxy) is in the base image's trust store; uv reads it
# only when told to. A real user's machine needs no such argument.
BUILD_ARGS = {"UV_SYSTEM_CERTS": "true"}


@dataclass(frozen=True)
class DockerEnv:
    services: DockerServices
    base_image: str
    hf_url: str
    hf: HuggingFaceFake

    @property
    def login(self) -> RegistryLogin:
        return RegistryLogin(
            server=self.services.registry,
            username=self.services.username,
            password=SecretStr(self.services.password),
        )


def docker_services() -> DockerServices:
    services = docker_module.available()
    if services is None:
        need_service("dockerd and a registry", 'run `eval "$(scripts/start-docker-services.sh)"`')
    assert services is not None
    return services


def base_image(services: DockerServices) -> str:
    """The debootstrap base (built once, then imported from the cached tarball)."""
    env = {**os.environ, "DOCKER_HOST": services.docker_host, "KRIPTIK_DOCKER_CLI": str(DOCKER_CLI)}
    run = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-base-image.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if run.returncode != 0:
        need_service("the debootstrap base image", run.stderr[-2000:])
    return run.stdout.strip().splitlines()[-1]


def hub_demanding_a_token() -> tuple[HuggingFaceFake, ServedApp]:
    """The HF fake with a gated repo that only DEFAULT_TOKEN's user may read."""
    hf = HuggingFaceFake()
    user = hf.users.get(DEFAULT_TOKEN) or hf.add_token(DEFAULT_TOKEN, HfUser())
    hf.grant(user.name, GATED)
    return hf, ServedApp(hf)


def docker_env() -> Iterator[DockerEnv]:
    services = docker_services()
    tag = base_image(services)
    hf, served = hub_demanding_a_token()
    try:
        yield DockerEnv(services, tag, served.url, hf)
    finally:
        served.stop()


def stub_context(directory: Path) -> Path:
    """Swap the model code and its heavy requirements for the stub, in a rendered context."""
    (directory / "pipeline.py").write_text(STUB_PIPELINE, encoding="utf-8")
    (directory / "requirements.txt").write_text(STUB_REQUIREMENTS, encoding="utf-8")
    return directory


class StubImageService(ImageService):
    """`ImageService` that builds the stub worker from whatever context it is given, on
    the local base image (through the Dockerfile's own `ARG BASE_IMAGE`)."""

    def __init__(self, *, docker_cli: Path, docker_host: str, base_image: str) -> None:
        super().__init__(docker_cli=docker_cli, docker_host=docker_host)
        self.base_image = base_image

    async def build(
        self,
        context: Path,
        tag: str,
        *,
        hf_token: SecretStr | None,
        build_args: Mapping[str, str],
        on_line: OnLine,
    ) -> None:
        stub_context(context)
        await super().build(
            context,
            tag,
            hf_token=hf_token,
            build_args={**build_args, **BUILD_ARGS, "BASE_IMAGE": self.base_image},
            on_line=on_line,
        )


def contains(chunks: Iterator[bytes], needle: bytes) -> bool:
    """Whether a byte stream contains `needle` (across chunk boundaries)."""
    tail = b""
    for chunk in chunks:
        if needle in tail + chunk:
            return True
        tail = (tail + chunk)[-len(needle) :]
    return False
