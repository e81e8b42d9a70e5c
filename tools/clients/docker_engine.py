"""A Docker engine through the `docker` SDK: build from a context, tag, and push with
registry credentials, reporting progress as it goes.

```
build(context, tag)  ── {"stream" | "aux" | "error"} ... ──> BuiltImage(id, tag)
push(reference, username, password) ── {"status" | "aux" | "error"} ... ──> PushedImage
```

Each blocking stream is read in a worker thread and its events reach `on_progress` on the
event loop. `push(..., stream=True)` never raises on failure, so every event is checked
for "error". Failures map to `BuildFailed` (naming the failing step), `AuthError` (the
registry refused the credentials), `NotFound`, or `Unreachable` (no engine). Build args
end up in the image history: never pass a secret as one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import docker
import docker.errors
from pydantic import BaseModel, ConfigDict, SecretStr

from tools.clients import _docker
from tools.clients._docker import NAME, OnProgress, ProgressEvent
from tools.clients.errors import BuildFailed, NotFound, Unreachable

__all__ = ["BuiltImage", "DockerEngineClient", "ProgressEvent", "PushedImage"]


class BuiltImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    tag: str


class PushedImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: str
    digest: str | None


class DockerEngineClient:
    """One Docker engine.

    Args:
        base_url: Engine address, e.g. `unix:///var/run/docker.sock` or `tcp://host:2375`;
            None uses the SDK's own `DOCKER_HOST` handling.
        timeout_s: Read timeout of engine calls (a build step can be slow).
    """

    def __init__(self, *, base_url: str | None = None, timeout_s: float = 600.0) -> None:
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._api: docker.APIClient | None = None

    def __repr__(self) -> str:
        return f"DockerEngineClient(base_url={self._base_url!r})"

    async def build(
        self,
        context: Path,
        *,
        tag: str,
        dockerfile: str = "Dockerfile",
        build_args: Mapping[str, str] | None = None,
        network_mode: str | None = None,
        on_progress: OnProgress | None = None,
    ) -> BuiltImage:
        """Build `context` into an image tagged `tag` (e.g. "registry/name:1.0")."""
        api = await self._client()
        options = {"path": str(context), "tag": tag, "dockerfile": dockerfile,
                   "buildargs": dict(build_args or {}), "network_mode": network_mode}  # fmt: skip
        step, image_id = "the build", None
        async for event in _docker.events(
            lambda: _docker.build_stream(api, **options), on_progress, "build"
        ):
            if (text := str(event.get("stream", "")).strip()).startswith("Step "):
                step = text
            if isinstance(aux := event.get("aux"), dict) and "ID" in aux:
                image_id = str(cast("dict[str, Any]", aux)["ID"])
            if "error" in event:
                raise BuildFailed(
                    f"The image did not build: {step} failed: {_docker.error_text(event)}. "
                    "Fix the Dockerfile (or the files it copies), then build again.",
                    provider=NAME,
                )
        if image_id is None:
            raise BuildFailed("The Docker engine ended the build without an image.", provider=NAME)
        return BuiltImage(id=image_id, tag=tag)

    async def tag(self, image: str, reference: str) -> None:
        """Give `image` (an id or a name) the name `reference` ("registry/repo:tag")."""
        repository, tag = _docker.split_reference(reference)
        api = await self._client()
        try:
            await asyncio.to_thread(_docker.tag_image, api, image, repository, tag)
        except docker.errors.NotFound:
            raise NotFound(
                f"The Docker engine has no image {image}. Build it first.", provider=NAME
            ) from None

    async def push(
        self,
        reference: str,
        *,
        username: str | None = None,
        password: SecretStr | None = None,
        on_progress: OnProgress | None = None,
    ) -> PushedImage:
        """Push `reference` ("registry/repo:tag") with the registry's credentials."""
        repository, tag = _docker.split_reference(reference)
        auth = (
            {"username": username, "password": password.get_secret_value()}
            if username and password
            else None
        )
        api = await self._client()
        digest = None
        stream = lambda: _docker.push_stream(api, repository, tag or "latest", auth)  # noqa: E731
        async for event in _docker.events(stream, on_progress, "push"):
            if isinstance(aux := event.get("aux"), dict) and "Digest" in aux:
                digest = str(cast("dict[str, Any]", aux)["Digest"])
            if "error" in event:
                raise _docker.push_error(reference, _docker.error_text(event))
        return PushedImage(reference=reference, digest=digest)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    async def _client(self) -> docker.APIClient:
        if self._api is None:
            try:
                self._api = await asyncio.to_thread(
                    _docker.connect, self._base_url, self._timeout_s
                )
            except docker.errors.DockerException:
                raise Unreachable(
                    f"Could not reach the Docker engine at {self._base_url or 'DOCKER_HOST'}. "
                    "Start Docker (or point DOCKER_HOST at a running engine), then try again.",
                    provider=NAME,
                    request_sent=False,
                ) from None
        return self._api
