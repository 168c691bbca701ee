"""Browser tests: Playwright driving the system's Chromium, headless, against the live test server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = (
        os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not executable:
        pytest.fail("Chromium is needed for the browser tests (make test installs it on Debian)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone_page(browser, live_server) -> Iterator[object]:
    """A page on a 360 px wide phone screen."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        base_url=live_server.url,
        locale="pt-BR",
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop_page(browser, live_server) -> Iterator[object]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url, locale="en"
    )
    page = context.new_page()
    yield page
    context.close()


def login(page, username: str, password: str = "correct-horse-battery") -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def fits(page) -> bool:
    """The page is no wider than the 360 px phone screen (nothing to scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth") <= 360


# Every table wrapper shows all of its table, and no cell reaches past the 360 px screen's right edge.
NOTHING_HIDDEN = """() =>
  [...document.querySelectorAll('.table-wrap')].every(w => w.scrollWidth <= w.clientWidth)
  && [...document.querySelectorAll('td')].every(td => td.getBoundingClientRect().right <= 360)"""


def nothing_hidden(page) -> bool:
    """No table is wider than its wrapper and no cell is off the phone screen (`fits` does not see inside a
    wrapper that scrolls sideways)."""
    return page.evaluate(NOTHING_HIDDEN)


def top(page, selector: str) -> float:
    """Where the first element matching `selector` starts, in CSS pixels from the top of the page."""
    return page.evaluate(
        "s => document.querySelector(s).getBoundingClientRect().top + window.scrollY", selector
    )
