"""What a browser test waits for on the Chainlit page: states, never time.

Chainlit 2.12 replaces DOM nodes as it goes, so an element found a moment ago may be gone:
- the first message of a chat moves the page from `/` to `/thread/<id>` (another route),
  and the whole chat is mounted again;
- every custom element (our cards and panels) is mounted again whenever the task starts
  or ends, a question is asked or answered, or its props change (react-runner evaluates
  the JSX anew for each render), and loses its React state (a typed key, a first click);
- a message's markdown is rendered anew when its text changes or its stream ends.

So the tests use locators and `expect` (which look again until they hold), and before
anything that acts on one node (typing, a two-click confirmation, an element screenshot,
scrolling) they wait for the page to be at rest: `ready` between turns, `asking` while a
question waits for its answer. The composer shows both: its commands button
(`#command-button`) is enabled only when the socket is connected, the commands are set,
no task runs and no question is pending; the stop button shows only while a task runs.
"""

from __future__ import annotations

import re
from typing import Final

from playwright.async_api import Page, expect

THREAD_URL: Final = re.compile(r"/thread/[0-9a-f-]+$")


async def ready(page: Page) -> None:
    """Connected, the chat started (its commands are set), no task running, nothing asked."""
    await expect(page.locator("#command-button")).to_be_enabled()


async def asking(page: Page) -> None:
    """A question (a secure field, an approval) waits for its answer, with nothing else
    left to change on the page: the chat has its thread (the route will not change
    again), no task runs, and the composer is locked for the answer.

    Call it once the page shows that the turn is past any earlier question (for example
    a message sent after that question was answered)."""
    await expect(page).to_have_url(THREAD_URL)
    await expect(page.locator("#stop-button")).to_have_count(0)
    await expect(page.locator("#command-button")).to_be_disabled()
