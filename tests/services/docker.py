"""A real Docker engine and an htpasswd-protected registry for tests.

`scripts/start-docker-services.sh` starts both (CI calls it; so can a developer) and writes
the settings to `$KRIPTIK_DOCKER_ROOT/env` (default /tmp/kriptik-docker/env) as well as
printing them. `available()` uses them when they answer, else starts the services itself
through the same script when dockerd is installed and we are root; otherwise None, and
the tests skip (or fail, when KRIPTIK_REQUIRE_SERVICES is set).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "start-docker-services.sh"
# Read at import, before the suite's conftest clears KRIPTIK_* variables.
_ENV = {
    k: v
    for k, v in os.environ.items()
    if k == "DOCKER_HOST" or k.startswith("KRIPTIK_TEST_REGISTRY")
}
_ROOT = Path(os.environ.get("KRIPTIK_DOCKER_ROOT", "/tmp/kriptik-docker"))


@dataclass(frozen=True)
class DockerServices:
    """Where the engine and the registry are, and the registry's credentials."""

    docker_host: str
    registry: str  # host:port
    username: str
    password: str


def _parse(text: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(.*)$", text, flags=re.MULTILINE))


def _from(values: dict[str, str]) -> DockerServices | None:
    try:
        return DockerServices(
            values["DOCKER_HOST"], values["KRIPTIK_TEST_REGISTRY"],
            values["KRIPTIK_TEST_REGISTRY_USER"], values["KRIPTIK_TEST_REGISTRY_PASSWORD"],
        )  # fmt: skip
    except KeyError:
        return None


def _answers(services: DockerServices) -> bool:
    try:
        client = docker.DockerClient(base_url=services.docker_host, timeout=5)
        client.ping()
        client.close()
    except docker.errors.DockerException:
        return False
    try:  # A registry with auth answers /v2/ with 401.
        answer = httpx.get(f"http://{services.registry}/v2/", timeout=3, trust_env=False)
    except httpx.HTTPError:
        return False
    return answer.status_code == 401


def find() -> DockerServices | None:
    """Running services, from the environment or from the script's env file."""
    env_file = _ROOT / "env"
    candidates = [_from(_ENV), _from(_parse(env_file.read_text())) if env_file.is_file() else None]
    return next((s for s in candidates if s is not None and _answers(s)), None)


def start() -> DockerServices | None:
    """Start them with the script, if dockerd is installed and we may run it (root)."""
    installed = all(shutil.which(b) for b in ("dockerd", "docker-registry", "htpasswd", "curl"))
    if not installed or os.geteuid() != 0:
        return None
    run = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "KRIPTIK_DOCKER_NO_INSTALL": "1", "KRIPTIK_DOCKER_ROOT": str(_ROOT)},
    )  # fmt: skip
    services = _from(_parse(run.stdout)) if run.returncode == 0 else None
    return services if services is not None and _answers(services) else None


def available() -> DockerServices | None:
    """Services to test against, found or started; None when there is no way."""
    return find() or start()
