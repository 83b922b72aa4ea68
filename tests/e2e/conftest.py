"""Browser tests: Playwright (sync API) driving Debian's Chromium against ``live_server``.

Without /usr/bin/chromium (or the playwright package) these tests skip with the
reason, except in CI (CI=true), where a missing browser is a failure: a green run
that never opened a page would hide a broken install step.

Playwright's sync API runs an asyncio event loop in the test thread, which makes
Django refuse ORM calls there ("you cannot call this from an async context").
The tests use the ORM only to set up data and to run a bulk job, one thing at a
time, so that check is switched off for this process.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# Debian's package; E2E_CHROMIUM points elsewhere (or at nothing, to check the skip path).
CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
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
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
PASSWORD = "pw-for-tests-123"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run here, not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _unavailable(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install chromium) to run the browser tests"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: pip install -e '.[dev]'")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def page(browser):
    # Reduced motion turns off chart animations, so screenshots show finished charts.
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, reduced_motion="reduce", locale="en-US"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def shoot():
    """Save a screenshot of the page under test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(target, name: str, full_page: bool = False) -> Path:
        """``target`` is a page, or a locator for just one part of it."""
        path = SCREENSHOTS / f"{name}.png"
        options = {"full_page": True} if full_page else {}
        target.screenshot(path=str(path), **options)
        return path

    return save


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
