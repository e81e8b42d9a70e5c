"""A real Docker engine and an htpasswd-protected registry for tests, from one of two places:

1. Named: `DOCKER_HOST` together with `KRIPTIK_TEST_REGISTRY`, `_USER` and `_PASSWORD` in
   the environment, as `.ci/run` exports them (`eval "$(scripts/start-docker-services.sh)"`).
   Named services are used as they are, or not at all: if they do not answer, nothing
   else is tried.
2. Started: otherwise, when dockerd, docker-registry, htpasswd and curl are installed and
   we are root, the suite starts its own through the same script, in a fresh directory of
   this run and on a free port, and stops them when the session ends (`stop_started`,
   called from tests/conftest.py).

Nothing is adopted: an engine or a registry left running by an earlier run is never
found, let alone used. With neither, `available()` is None and the tests skip (or fail,
when KRIPTIK_REQUIRE_SERVICES is set).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx

REPO = Path(__file__).resolve().parents[2]
START = REPO / "scripts" / "start-docker-services.sh"
STOP = REPO / "scripts" / "stop-docker-services.sh"
_NAMES = ("DOCKER_HOST", "KRIPTIK_TEST_REGISTRY", "KRIPTIK_TEST_REGISTRY_USER",
          "KRIPTIK_TEST_REGISTRY_PASSWORD")  # fmt: skip
# Read at import, before any test changes the environment (some point DOCKER_HOST elsewhere).
_ENV = {name: os.environ.get(name, "") for name in _NAMES}
# The root of the services this run started, if any (removed again by `stop_started`).
_started_root: Path | None = None


@dataclass(frozen=True)
class DockerServices:
    """Where the engine and the registry are, and the registry's credentials."""

    docker_host: str
    registry: str  # host:port
    username: str
    password: str


def _from(values: Mapping[str, str]) -> DockerServices | None:
    if not all(values.get(name) for name in _NAMES):
        return None
    return DockerServices(*(values[name] for name in _NAMES))


def _answers(services: DockerServices) -> bool:
    try:
        client = docker.DockerClient(base_url=services.docker_host, timeout=30)
        client.ping()
        client.close()
    except docker.errors.DockerException:
        return False
    try:  # A registry with auth answers /v2/ with 401.
        answer = httpx.get(f"http://{services.registry}/v2/", timeout=30, trust_env=False)
    except httpx.HTTPError:
        return False
    return answer.status_code == 401


def named() -> DockerServices | None:
    """The services the environment names, if it names all four settings."""
    return _from(_ENV)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start() -> DockerServices | None:
    """Start an engine and a registry of this run's own, if dockerd is installed and we
    may run it (root)."""
    global _started_root
    installed = all(shutil.which(b) for b in ("dockerd", "docker-registry", "htpasswd", "curl"))
    if not installed or os.geteuid() != 0:
        return None
    root = Path(tempfile.mkdtemp(prefix="kriptik-docker-"))
    _started_root = root
    run = subprocess.run(
        ["bash", str(START)], capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "KRIPTIK_DOCKER_NO_INSTALL": "1", "KRIPTIK_DOCKER_ROOT": str(root),
             "KRIPTIK_REGISTRY_PORT": str(_free_port())},
    )  # fmt: skip
    if run.returncode != 0:
        return None
    services = _from(dict(re.findall(r"^export (\w+)=(.*)$", run.stdout, flags=re.MULTILINE)))
    return services if services is not None and _answers(services) else None


@functools.cache
def available() -> DockerServices | None:
    """The services to test against (named, else started once per session), or None."""
    if (services := named()) is not None:
        return services if _answers(services) else None
    return start()


def stop_started() -> None:
    """Stop the engine and the registry this run started, and remove their directory."""
    global _started_root
    root, _started_root = _started_root, None
    if root is not None:
        subprocess.run(["bash", str(STOP), str(root)], timeout=120, check=False)
