"""Build, push and pull worker images on any Docker engine.

- A build that needs the Hugging Face token runs the Docker CLI with BuildKit
  (`--secret id=hf_token,env=HF_TOKEN`): docker-py cannot pass build secrets, and a build
  arg would leave the token in `docker history`. The token travels in the CLI's
  environment only, never in its argv (which `ps` shows to every user of the machine).
- Every other build, and the push, go through `DockerEngineClient` (the `docker` SDK),
  which checks every streamed push event for an error (docker-py's push never raises).
- Registry lookups, pulls and removals use the SDK directly.

All output lines pass through the redactor before anyone sees them.

The `docker` SDK (and paramiko behind it, 8 MiB) is imported on the first call that talks
to the engine, not with this module: the web app builds an `ImageService` at start, and
most processes never build an image.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import SecretStr

from tools.clients.errors import BuildFailed
from tools.clients.registry import RegistryLogin, split_ref
from vault import REDACTOR, redact

if TYPE_CHECKING:
    from tools.clients.docker_engine import DockerEngineClient

__all__ = ["ImageService"]

OnLine = Callable[[str], None]
_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PLATFORM: Final = "linux/amd64"
_KEEP: Final = 40  # lines of output quoted in a failure message


def _failed(message: str, tail: list[str]) -> BuildFailed:
    text = message + ("\n" + "\n".join(tail[-_KEEP:]) if tail else "")
    return BuildFailed(redact(text), provider="Docker")


def _auth(login: RegistryLogin | None) -> dict[str, str] | None:
    if login is None:
        return None
    return {
        "username": login.username,
        "password": login.password.get_secret_value(),
        "serveraddress": login.server,
    }


class ImageService:
    """One Docker engine (and the CLI for secret builds).

    Args:
        docker_cli: The Docker CLI with BuildKit (Debian's 20.10 `docker`; settings).
        docker_host: Engine address (`unix:///...`, `tcp://...`); None: the SDK's default.
        build_network: Network for RUN steps; "host" reaches the package index when the
            engine runs without a bridge.
    """

    def __init__(
        self, *, docker_cli: Path, docker_host: str | None = None, build_network: str = "host"
    ) -> None:
        self.docker_cli = docker_cli
        self.docker_host = docker_host
        self.build_network = build_network

    @cached_property
    def _engine(self) -> DockerEngineClient:
        from tools.clients.docker_engine import DockerEngineClient

        return DockerEngineClient(base_url=self.docker_host)

    @cached_property
    def _client(self) -> Any:
        # Any: docker-py is only partly typed, and strict checking would flag every call.
        import docker

        if self.docker_host:
            return docker.DockerClient(base_url=self.docker_host, version="auto")
        return docker.from_env()

    async def unavailable(self) -> str | None:
        """None when the engine answers, else why not (for the user)."""
        from docker.errors import DockerException

        try:
            await asyncio.to_thread(lambda: self._client.ping())
        except (DockerException, OSError) as err:
            return f"no Docker engine answered ({type(err).__name__})"
        return None

    async def build(
        self,
        context: Path,
        tag: str,
        *,
        hf_token: SecretStr | None,
        build_args: Mapping[str, str],
        on_line: OnLine,
    ) -> None:
        """Build `context` as `tag` for linux/amd64; `BuildFailed` with the output's tail."""
        if hf_token is not None:
            REDACTOR.register(hf_token.get_secret_value())
            await self._cli_build(context, tag, hf_token, build_args, on_line)
        else:
            await self._sdk_build(context, tag, dict(build_args), on_line)

    async def _cli_build(
        self,
        context: Path,
        tag: str,
        token: SecretStr,
        build_args: Mapping[str, str],
        on_line: OnLine,
    ) -> None:
        argv = [str(self.docker_cli)]
        if self.docker_host:
            argv += ["--host", self.docker_host]
        argv += [
            "build",
            "--network",
            self.build_network,
            "--platform",
            _PLATFORM,
            "--progress",
            "plain",
            "--secret",
            "id=hf_token,env=HF_TOKEN",
            "--tag",
            tag,
        ]
        for key, value in build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        argv.append(str(context))
        tail: list[str] = []
        with tempfile.TemporaryDirectory(prefix="kriptik-docker-") as config:
            # An empty DOCKER_CONFIG: no credential helper or stored login of the host user.
            env = {
                "PATH": _PATH,
                "HOME": config,
                "DOCKER_CONFIG": config,
                "DOCKER_BUILDKIT": "1",
                "HF_TOKEN": token.get_secret_value(),
            }
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            async for raw in proc.stdout or ():
                line = redact(raw.decode(errors="replace").rstrip())
                tail = [*tail[-_KEEP:], line]
                on_line(line)
            code = await proc.wait()
        if code != 0:
            raise _failed(f"docker build of {tag} failed (exit {code}):", tail)

    async def _sdk_build(
        self, context: Path, tag: str, build_args: dict[str, str], on_line: OnLine
    ) -> None:
        await self._engine.build(
            context, tag=tag, build_args=build_args, network_mode=self.build_network,
            on_progress=lambda event: on_line(redact(event.message)),
        )  # fmt: skip

    async def push(self, ref: str, login: RegistryLogin | None, *, on_line: OnLine) -> str:
        """Push `ref`; returns its digest. Every streamed event is checked for an error
        (docker-py's push never raises): `AuthError` or `BuildFailed`."""
        pushed = await self._engine.push(
            ref, username=login.username if login else None,
            password=login.password if login else None,
            on_progress=lambda event: on_line(redact(event.message)),
        )  # fmt: skip
        if not pushed.digest:
            raise _failed(f"pushing {ref} reported no digest", [])
        return pushed.digest

    async def remote_digest(self, ref: str, login: RegistryLogin | None) -> str | None:
        """The digest the registry holds for `ref`, or None when it has none (or refuses)."""

        from docker.errors import APIError, NotFound

        def look() -> str | None:
            try:
                data = self._client.images.get_registry_data(ref, auth_config=_auth(login))
            except (NotFound, APIError):
                return None
            return data.id

        return await asyncio.to_thread(look)

    async def pull(self, ref: str, login: RegistryLogin | None) -> str:
        """Pull `ref` from its registry; returns the local image id."""
        repository, tag = split_ref(ref)
        from docker.errors import APIError

        def pull() -> str:
            try:
                image = self._client.images.pull(repository, tag=tag, auth_config=_auth(login))
            except APIError as err:
                raise _failed(f"pulling {ref} failed: {err.explanation or err}", []) from None
            return str(image.id)

        return await asyncio.to_thread(pull)

    async def remove_local(self, ref: str) -> bool:
        """Untag `ref` on this engine; False when it was not there."""

        from docker.errors import NotFound

        def remove() -> bool:
            with contextlib.suppress(NotFound):
                self._client.images.remove(ref, noprune=False)
                return True
            return False

        return await asyncio.to_thread(remove)
