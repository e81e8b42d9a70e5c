"""Chainlit's data layer over our own chat tables (`vault.chat`).

Not Chainlit's SQLAlchemy layer: that one has no DDL, drops lists on SQLite, swallows
errors and loses step outputs to a write race. Here:

- Users are our users: `get_user` reads the users table, so a login needs no second table.
- Writes from one chat session go through that session's lock, so Chainlit's
  fire-and-forget write tasks land in the order they were created; the store also merges
  instead of overwriting. Sessions do not wait for each other: with one lock for the
  whole process, fifty busy sessions queued their writes for a minute and more, and an
  instance that died lost them all.
- A write for a thread that belongs to someone else is dropped (Chainlit trusts ids that
  come from the browser in a few places). Feedback, which Chainlit's HTTP routes pass on
  with no ownership check at all, is given and removed only by the thread's owner.
- A thread id with no chat row that carries another user's audit rows, deployments or agent
  history reads as a thread nobody may join: Chainlit's socket would otherwise adopt it
  (its author check runs only when `get_thread` finds a thread).
- Only a short allow-list of session metadata is stored: `cl.user_session` never reaches
  the database wholesale, and a thread can never be marked shared.
- Only custom elements (charts, progress) are stored, as props. Files live in the
  session's temporary folder and are made again on request (`/audit`).
"""

from __future__ import annotations

# Chainlit's base class and dict types are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false, reportIncompatibleMethodOverride=false
import asyncio
import logging
import uuid
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

from chainlit.context import context
from chainlit.data.base import BaseDataLayer
from chainlit.data.utils import queue_until_user_message
from chainlit.element import Element, ElementDict
from chainlit.step import StepDict
from chainlit.types import (
    Feedback,
    PageInfo,
    PaginatedResponse,
    Pagination,
    ThreadDict,
    ThreadFilter,
)
from chainlit.user import PersistedUser, User

from agent.guard import mask
from ui.web.chat_dicts import element_dict, stamp, step_values, thread_dict
from vault import Vault
from vault.chat import ChatStore

_log = logging.getLogger(__name__)

# Thread metadata Chainlit needs to resume a chat. Nothing else from the session is kept.
_METADATA_KEYS: Final = frozenset({"chat_profile", "chat_settings", "client_type"})
# Names Chainlit gives a thread when its first interaction is not typed text.
_NOT_A_NAME: Final = frozenset({"custom_element", "resume"})
_THREAD_NAME_CHARS: Final = 80
_OWNERS_CACHED: Final = 10_000

# The user the current HTTP request (or socket connect) authenticated as. Chainlit's
# `authenticate_user` dependency looks the token's user up with `get_user` in the same task,
# before the route runs; routes such as PUT /feedback tell the data layer nothing else
# about the caller. A task per request keeps one caller from leaking into another's.
_authenticated: ContextVar[str | None] = ContextVar("kriptik_authenticated", default=None)


def _session_user_id() -> str | None:
    """The logged-in user of the socket session this write comes from, if any."""
    try:
        user = context.session.user
    except Exception:  # no Chainlit context: an HTTP route or a background task
        return None
    return user.id if isinstance(user, PersistedUser) else None


def _session_id() -> str | None:
    """The Chainlit session this write comes from (its tasks inherit its context)."""
    try:
        return str(context.session.id)
    except Exception:  # no Chainlit context: an HTTP route or a background task
        return None


def _caller_id() -> str | None:
    """Who is asking: the Chainlit session's user, else the user this request
    authenticated as; None when neither is known (then nothing is shown or changed)."""
    return _session_user_id() or _authenticated.get()


def _unjoinable(thread_id: str) -> ThreadDict:
    """A thread with no author: Chainlit refuses every socket that asks to join it, and
    shows it to no one (it is never shared)."""
    return ThreadDict(
        id=thread_id, createdAt="", name=None, userId=None, userIdentifier=None, tags=[],
        metadata={}, steps=[], elements=[],
    )  # fmt: skip


class ChatDataLayer(BaseDataLayer):
    """Chainlit's persistence hooks, implemented with `vault.chat.ChatStore`."""

    def __init__(self, vault: Callable[[], Vault]) -> None:
        self._vault = vault
        # One lock a session, alive while one of its writes holds or awaits it (so the
        # map forgets idle sessions); writes from no session share `_lock`.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._lock = asyncio.Lock()
        self._owners: dict[str, str] = {}

    def _ordered(self) -> asyncio.Lock:
        """The lock that keeps this session's writes in the order they were made."""
        key = _session_id()
        if key is None:
            return self._lock
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _store(self) -> ChatStore:
        return ChatStore(self._vault().sessions)

    async def _may_write(self, thread_id: str) -> bool:
        """False when the thread is owned by a user other than the session's."""
        me = _session_user_id()
        if me is None:
            return True
        owner = self._owners.get(thread_id)
        if owner is None:
            owner, _ = await self._store().thread_owner(thread_id)
            if owner is not None:
                if len(self._owners) >= _OWNERS_CACHED:
                    self._owners.clear()  # a cache of immutable facts: dropping it is safe
                self._owners[thread_id] = owner
        if owner not in (None, me):
            _log.warning("dropped a write to thread %s: it belongs to another user", thread_id)
            return False
        return True

    # -- users -----------------------------------------------------------------------

    async def get_user(self, identifier: str) -> PersistedUser | None:
        user = await self._vault().users.get(identifier)
        # Chainlit calls this only to authenticate the caller (a token, a login).
        _authenticated.set(None if user is None else user.id)
        if user is None:
            return None
        return PersistedUser(
            id=user.id,
            identifier=user.name,
            createdAt=stamp(user.created_at) or "",
            metadata={"id": user.id, "role": user.role},
        )

    async def create_user(self, user: User) -> PersistedUser | None:
        # Accounts are created by our login flows (password, GitHub); never from a token.
        return await self.get_user(user.identifier)

    # -- threads ---------------------------------------------------------------------

    async def get_thread_author(self, thread_id: str) -> str:
        _, name = await self._store().thread_owner(thread_id)
        return name or ""

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        store = self._store()
        bundle = await store.get_thread(thread_id)
        if bundle is not None:
            return thread_dict(bundle.thread, bundle.author, bundle)
        me = _caller_id()
        if me is not None and await store.claimed_by_others(thread_id, me):
            _log.warning("refused thread %s: another user's records carry its id", thread_id)
            return _unjoinable(thread_id)
        return None

    async def list_threads(
        self, pagination: Pagination, filters: ThreadFilter
    ) -> PaginatedResponse[ThreadDict]:
        if not filters.userId:
            return PaginatedResponse(PageInfo(False, None, None), [])
        rows, more = await self._store().list_threads(
            filters.userId,
            first=max(1, min(pagination.first, 100)),
            cursor=pagination.cursor,
            search=filters.search,
            feedback=filters.feedback,
        )
        data = [thread_dict(row, None, None) for row in rows]
        return PaginatedResponse(
            PageInfo(more, rows[0].id if rows else None, rows[-1].id if rows else None), data
        )

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        if name is not None:
            name = (
                None if name in _NOT_A_NAME else mask(" ".join(name.split()))[:_THREAD_NAME_CHARS]
            )
        kept = None
        if metadata is not None:
            kept = {k: v for k, v in metadata.items() if k in _METADATA_KEYS}
        async with self._ordered():
            if not await self._may_write(thread_id):
                return
            done = await self._store().update_thread(
                thread_id, name=name or None, user_id=user_id, metadata=kept, tags=tags
            )
        if not done:
            _log.warning("refused to give thread %s to another user", thread_id)

    async def delete_thread(self, thread_id: str) -> None:
        async with self._ordered():
            await self._store().delete_thread(thread_id)
        self._owners.pop(thread_id, None)

    # -- steps -----------------------------------------------------------------------

    async def _save_step(self, step_dict: StepDict) -> None:
        thread_id, step_id = step_dict.get("threadId"), step_dict.get("id")
        if not thread_id or not step_id:
            return
        async with self._ordered():
            if await self._may_write(thread_id):
                await self._store().upsert_step(step_id, thread_id, step_values(step_dict))

    @queue_until_user_message()
    async def create_step(self, step_dict: StepDict) -> None:
        await self._save_step(step_dict)

    @queue_until_user_message()
    async def update_step(self, step_dict: StepDict) -> None:
        await self._save_step(step_dict)

    @queue_until_user_message()
    async def delete_step(self, step_id: str) -> None:
        async with self._ordered():
            await self._store().delete_step(step_id)

    async def get_favorite_steps(self, user_id: str) -> list[StepDict]:
        return []  # favourites are off in .chainlit/config.toml

    # -- elements --------------------------------------------------------------------

    @queue_until_user_message()
    async def create_element(self, element: Element) -> None:
        if element.type != "custom" or not element.thread_id or not element.for_id:
            return
        values = {
            "for_id": element.for_id, "type": element.type, "name": element.name,
            "display": element.display, "mime": element.mime,
            "props": dict(getattr(element, "props", {}) or {}),
        }  # fmt: skip
        async with self._ordered():
            if await self._may_write(element.thread_id):
                await self._store().upsert_element(element.id, element.thread_id, values)

    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        row = await self._store().get_element(thread_id, element_id)
        return None if row is None else element_dict(row)

    @queue_until_user_message()
    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        async with self._ordered():
            if thread_id and not await self._may_write(thread_id):
                return
            await self._store().delete_element(element_id, thread_id)

    # -- feedback --------------------------------------------------------------------

    async def upsert_feedback(self, feedback: Feedback) -> str:
        """Only the thread's owner votes ("" when refused: Chainlit turns an exception into
        a 500 and the route has already checked the login)."""
        me = _caller_id()
        saved = None
        if me is not None:
            saved = await self._store().upsert_feedback(
                feedback.id or str(uuid.uuid4()),
                for_id=feedback.forId,
                value=int(feedback.value),
                comment=feedback.comment,
                thread_id=feedback.threadId,
                user_id=me,
            )
        if saved is None:
            _log.warning("dropped feedback on step %s: not the caller's thread", feedback.forId)
        return saved or ""

    async def delete_feedback(self, feedback_id: str) -> bool:
        me = _caller_id()
        if me is None:
            return False
        return await self._store().delete_feedback(feedback_id, user_id=me)

    async def build_debug_url(self) -> str:
        return ""

    async def close(self) -> None:
        """The engine belongs to the vault, which closes it at shutdown."""
