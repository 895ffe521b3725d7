"""Browser tests: headless Chromium (the Debian package, never a downloaded browser)
driven by Playwright for Python, against a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from govtrust.services import Context
from tests.conftest import serve
from tests.e2e.support import Accounts, make_accounts

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Portal:
    url: str
    ctx: Context
    accounts: Accounts


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an event loop running in
    # this thread while it is open, and tests of other files that the same xdist worker
    # runs next (pyHanko calls asyncio.run) must not find it.
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def portal(ctx: Context) -> Iterator[Portal]:
    accounts = make_accounts(ctx)
    with serve(ctx) as url:
        yield Portal(url, ctx, accounts)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-GB", viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    try:
        yield pg
    finally:
        context.close()


def login(page: Page, portal: Portal, role: str) -> None:
    page.goto(portal.url + "/en/operator/login")
    page.get_by_label("User name").fill(f"test-{role}")
    page.get_by_label("Password").fill(portal.accounts.passwords[role])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/en/operator")
