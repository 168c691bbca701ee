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
