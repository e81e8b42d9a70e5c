"""Headless Chromium (Debian's package) driven by Playwright, with no downloads."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, async_playwright, expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium tries to reach Google's services.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# `expect` waits for a state until this bound (Playwright's default is 5 s). Each of those
# states comes from a server and a page that share a busy machine with everything else,
# so the bound is generous; a state that holds ends the wait at once.
EXPECT_TIMEOUT_MS = 30_000


def available() -> bool:
    return shutil.which("chromium") is not None


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
