"""Following deployments in the chat: a live Progress panel for each deployment of the
thread that is still on its way, started when the agent reports a new deployment
(`DeploymentStarted`) and again when the thread is reopened (the panel's stored props say
where it left off); and each ready endpoint's lifetime in the /deployments panel (its
warning before it stops by itself, and the Extend button's action)."""

from __future__ import annotations

# Chainlit's context and thread dicts are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import chainlit as cl
from pydantic import ValidationError

from tools.pipeline.expiry import cost_cap_reached, warning_line
from tools.pipeline.target_pick import TARGET_TITLES
from ui.web import progress
from vault.deployments import DeploymentView
from vault.errors import VaultError

if TYPE_CHECKING:
    from ui.root import Root

_log = logging.getLogger(__name__)
# The states in which the pipeline still reports progress.
_FOLLOWED: Final = frozenset(
    {"planned", "building", "creating", "waiting", "testing", "publishing", "needs_key"}
)
# (session id, deployment id) -> the task updating that session's panel.
_FOLLOWING: dict[tuple[str, str], asyncio.Task[progress.ProgressView]] = {}


async def _pipeline_running(root: Root) -> bool:
    """Whether deployments run here (waiting for the app's launch of them, if under way)."""
    return await root.pipeline.settled() is not None


def _title(view: DeploymentView) -> str:
    return f"Deploying {view.repo_id}"


def _start(panel: progress.ProgressPanel, session_id: str) -> None:
    key = (session_id, panel.view.deployment_id)
    if key in _FOLLOWING:
        return
    task = asyncio.create_task(panel.follow())
    _FOLLOWING[key] = task
    task.add_done_callback(lambda _: _FOLLOWING.pop(key, None))


async def _pending(root: Root, user_id: str, thread_id: str) -> list[DeploymentView]:
    views = await root.deployments.list(user_id)
    return [v for v in views if v.thread_id == thread_id and v.state in _FOLLOWED]


async def follow_new(root: Root, user_id: str, thread_id: str) -> None:
    """Show and follow the thread's deployments that this session does not follow yet."""
    if not await _pipeline_running(root):
        return
    session_id = cl.context.session.id
    for view in await _pending(root, user_id, thread_id):
        if (session_id, view.id) in _FOLLOWING:
            continue
        state = progress.ProgressView.start(view.id, _title(view), now=view.created_at)
        panel = progress.ProgressPanel(state)
        await panel.show(
            intro=f"Deploying **{view.repo_id}** on {_where(view)}. You can close this page: the"
            " deployment carries on, and this panel catches up when you come back."
        )
        _start(panel, session_id)


def _where(view: DeploymentView) -> str:
    """The cloud a deployment runs on, as users read it ("RunPod", "Google Cloud Run")."""
    titles: dict[str, str] = {str(name): title for name, title in TARGET_TITLES.items()}
    target = str(view.plan.get("target", "runpod"))
    return "RunPod" if target == "runpod" else titles.get(target, target)


def stored_views(
    elements: Iterable[Mapping[str, Any]],
) -> dict[str, tuple[str, str, progress.ProgressView]]:
    """deployment id -> (element id, message id, last view), from a thread's elements."""
    found: dict[str, tuple[str, str, progress.ProgressView]] = {}
    for element in elements:
        if element.get("name") != progress.ELEMENT:
            continue
        try:
            view = progress.ProgressView.model_validate(element.get("props") or {})
        except ValidationError:
            continue
        found[view.deployment_id] = (str(element.get("id")), str(element.get("forId") or ""), view)
    return found


async def resume(
    root: Root, user_id: str, thread_id: str, elements: Iterable[Mapping[str, Any]]
) -> None:
    """Re-attach live panels after a reload: pick up each stored panel where it stopped.
    A panel stored as still running whose deployment has ended since (its instance died
    before it could say so, and another finished the deployment) catches up too: its
    stream ends at once, with what the panel missed."""
    if not await _pipeline_running(root):
        return
    stored = stored_views(elements)
    session_id = cl.context.session.id
    for view in await root.deployments.list(user_id):
        ended = view.state not in _FOLLOWED
        if view.thread_id != thread_id or (ended and not _left_running(stored, view.id)):
            continue
        if view.id in stored:
            element_id, message_id, last = stored[view.id]
            panel = progress.ProgressPanel(last, element_id=element_id)
            panel.element.for_id = message_id or None
        else:
            now = root.clock()
            panel = progress.ProgressPanel(
                progress.ProgressView.start(view.id, _title(view), now=now)
            )
            await panel.show(intro=f"The deployment of **{view.repo_id}** is still under way.")
        _start(panel, session_id)


def _left_running(stored: Mapping[str, tuple[str, str, progress.ProgressView]], key: str) -> bool:
    return key in stored and stored[key][2].status == "running"


def lifetime_fields(view: DeploymentView, *, now: datetime) -> dict[str, Any]:
    """A /deployments row's lifetime: the warning once it went out ("Stops in 12 min:
    time-to-live reached"), when it stops by itself, and whether Extend applies (not once
    its dollar cap is reached: that stop cannot be put off)."""
    ready = view.state == "ready"
    stops = (
        f"Stops by itself by {view.expires_at:%Y-%m-%d %H:%M} UTC at the latest"
        if ready and view.expires_at is not None
        else None
    )
    return {
        "warning": warning_line(view, now=now),
        "stops": stops,
        "can_extend": ready and not cost_cap_reached(view),
    }


async def extend(root: Root, user_id: str, deployment_id: str) -> str:
    """The Extend button: the deployment gets its full time-to-live again from now
    (`tools.pipeline.lifetime.extend`); returns what to tell the user."""
    from tools.pipeline.lifetime import extend as extend_lifetime

    try:
        pipeline = await root.pipeline.ready()
        view = await extend_lifetime(pipeline.services, user_id, deployment_id)
    except RuntimeError:
        return "Deployments are not enabled on this server, so nothing was extended."
    except VaultError as error:
        return str(error)
    when = f"{view.expires_at:%Y-%m-%d %H:%M} UTC" if view.expires_at else "its full time-to-live"
    return f"{view.repo_id} extended: it now stops by itself by {when}, or when idle too long."
