"""Worker images in the simulator: a stand-in for the Docker engine that "builds" and
"pushes" a generated worker without running it, and a registry that answers the OCI
distribution API's manifest delete, so teardown has something real to talk to.

`kriptik demo` has no Docker engine, and a worker image cannot be built without its
base images anyway. The build still reads the rendered build context (every file of it
goes into the image digest, so a changed worker gets a new digest), and reports the lines
a real build would: one per Dockerfile instruction. Nothing leaves loopback.

    registry = SimulatedRegistry()
    served = ServedApp(registry)                       # http://127.0.0.1:PORT
    images = SimulatedImages(registry)                  # ImageBuilder for the pipeline
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["SimulatedImages", "SimulatedRegistry"]


class SimulatedRegistry:
    """Pushed images by reference, and `DELETE /v2/<name>/manifests/<digest>` on them."""

    def __init__(self) -> None:
        self.images: dict[str, str] = {}  # "host/name:tag" -> digest

    def digest_of(self, ref: str) -> str | None:
        return self.images.get(ref)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path = request.url.path
        if request.method != "DELETE" or "/manifests/" not in path or not path.startswith("/v2/"):
            await Response(status_code=405)(scope, receive, send)
            return
        name, _, digest = path.removeprefix("/v2/").partition("/manifests/")
        gone = [ref for ref, d in self.images.items() if d == digest and f"/{name}:" in ref]
        for ref in gone:
            del self.images[ref]
        await Response(status_code=202 if gone else 404)(scope, receive, send)


def _read_context(context: Path) -> tuple[str, list[str]]:
    """The digest of every file of the build context, and the Dockerfile's instructions."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes())
    dockerfile = context / "Dockerfile"
    lines = dockerfile.read_text().splitlines() if dockerfile.is_file() else []
    steps = [line.strip() for line in lines if line[:1].isalpha()]
    return f"sha256:{digest.hexdigest()}", steps


class SimulatedImages:
    """The pipeline's image builder (`tools.pipeline.services.ImageBuilder`), simulated."""

    def __init__(self, registry: SimulatedRegistry) -> None:
        self.registry = registry
        self._built: dict[str, str] = {}  # ref -> digest of its build context

    async def unavailable(self) -> str | None:
        return None  # always "up": it runs in this process

    async def build(
        self,
        context: Path,
        tag: str,
        *,
        hf_token: object | None,
        build_args: Mapping[str, str],
        on_line: Callable[[str], None],
    ) -> None:
        digest, steps = await asyncio.to_thread(_read_context, context)
        for number, step in enumerate(steps, start=1):
            on_line(f"[simulated] step {number}/{len(steps)}: {step[:120]}")
        on_line(f"[simulated] built {tag} (no Docker engine in the simulator)")
        self._built[tag] = digest

    async def push(self, ref: str, login: object, *, on_line: Callable[[str], None]) -> str:
        digest = self._built.get(ref)
        if digest is None:
            raise RuntimeError(f"{ref} was never built")
        self.registry.images[ref] = digest
        on_line(f"[simulated] pushed {ref} ({digest[:19]})")
        return digest

    async def remote_digest(self, ref: str, login: object) -> str | None:
        return self.registry.digest_of(ref)

    async def pull(self, ref: str, login: object) -> str:
        digest = self.registry.digest_of(ref)
        if digest is None:
            raise RuntimeError(f"{ref} is not in the simulated registry")
        return digest

    async def remove_local(self, ref: str) -> bool:
        return self._built.pop(ref, None) is not None
