"""The typed edge of the `docker` SDK (which ships no type information), and the bridge
from its blocking event streams to the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal, cast

import docker
import docker.errors
from pydantic import BaseModel, ConfigDict

from tools.clients.errors import AuthError, BuildFailed, ProviderError

NAME = "Docker"
Event = dict[str, Any]
Stage = Literal["build", "push"]
_AUTH_WORDS = ("unauthorized", "authentication required", "no basic auth credentials", "denied")


class ProgressEvent(BaseModel):
    """One line of progress: a build step's output, or a layer's push status."""

    model_config = ConfigDict(frozen=True)

    stage: Stage
    message: str


OnProgress = Callable[[ProgressEvent], None]


def connect(base_url: str | None, timeout_s: float) -> docker.APIClient:
    """A low-level client for the engine, after checking that it answers."""
    if base_url:
        client = docker.DockerClient(base_url=base_url, timeout=int(timeout_s))
    else:
        client = docker.from_env(timeout=int(timeout_s))
    ping: Any = client.ping  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    ping()
    return client.api


def build_stream(api: docker.APIClient, **kwargs: Any) -> Iterator[Event]:
    return cast("Iterator[Event]", api.build(rm=True, forcerm=True, decode=True, **kwargs))


def push_stream(
    api: docker.APIClient, repository: str, tag: str, auth: dict[str, str] | None
) -> Iterator[Event]:
    # docker-py ships no types; `stream=True, decode=True` yields one dict per event.
    push: Any = api.push  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return cast(
        "Iterator[Event]", push(repository, tag=tag, stream=True, decode=True, auth_config=auth)
    )


def tag_image(api: docker.APIClient, image: str, repository: str, tag: str | None) -> None:
    tag_fn: Any = api.tag  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    tag_fn(image, repository, tag, force=True)


async def events(
    stream: Callable[[], Iterator[Event]], on_progress: OnProgress | None, stage: Stage
) -> AsyncIterator[Event]:
    """Read a blocking event stream in a worker thread; yield each event on the loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for event in stream():
                loop.call_soon_threadsafe(queue.put_nowait, event)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.create_task(asyncio.to_thread(pump))
    try:
        while (event := await queue.get()) is not None:
            if on_progress is not None and (text := progress_text(event)):
                on_progress(ProgressEvent(stage=stage, message=text))
            yield event
        await task
    except docker.errors.APIError as err:
        raise BuildFailed(
            f"The Docker engine refused the {stage}: {err.explanation or err}. "
            "Check the build context and the image name, then try again.",
            provider=NAME,
        ) from None
    finally:
        task.cancel()


def error_text(event: Event) -> str:
    detail = event.get("errorDetail")
    text = cast("Event", detail).get("message") if isinstance(detail, dict) else None
    return str(text or event.get("error", "unknown error")).strip().rstrip(".")


def progress_text(event: Event) -> str:
    if "stream" in event:
        return str(event["stream"]).strip()
    if "error" in event:
        return error_text(event)
    return " ".join(str(event[k]) for k in ("id", "status", "progress") if event.get(k))


def push_error(reference: str, text: str) -> ProviderError:
    registry = reference.split("/")[0]
    if any(word in text.lower() for word in _AUTH_WORDS):
        return AuthError(
            f"The registry {registry} refused the credentials for {reference} ({text}). Check the "
            "username and the password or token (it needs push rights), then paste them here.",
            provider=NAME,
        )
    return BuildFailed(
        f"Pushing {reference} failed: {text}. Try again; if it persists, check the registry.",
        provider=NAME,
    )


def split_reference(reference: str) -> tuple[str, str | None]:
    """("registry:5000/repo", "tag") from "registry:5000/repo:tag" (the port is no tag)."""
    head, _, last = reference.rpartition("/")
    if ":" in last:
        name, _, tag = last.partition(":")
        return (f"{head}/{name}" if head else name), tag
    return reference, None
