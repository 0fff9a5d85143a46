"""Playwright (Python) driving Debian's /usr/bin/chromium: `npx playwright install` cannot download here."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from components.ui.session import OWNER_STORAGE_KEY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google hosts on this closed network.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]


def in_ci() -> bool:
    """CI=true (what .ci/run and most CI services set); CI=false or 0 means a local run."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium(path: str | None = None) -> None:
    """Skip locally without chromium; in CI (.ci/run installs it) its absence is a failure, so a
    broken install can never turn the browser tests into a green row of skips."""
    path = path or CHROMIUM
    if not os.path.exists(path):
        if in_ci():
            pytest.fail(f"{path} is missing; .ci/run should have installed Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


class _SharedBrowser:
    """One chromium for the whole test process, started by the first page asked for: starting
    Playwright's driver and chromium costs about a second of CPU, once per module otherwise. Each
    ``chromium_page`` still gets a browser context of its own (own storage, so its own owner id),
    which is what a separate browser was needed for."""

    def __init__(self) -> None:
        self._playwright = None
        self._browser = None

    def get(self):
        if self._browser is None or not self._browser.is_connected():
            from playwright.sync_api import sync_playwright

            if self._playwright is None:
                self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                             args=ARGS)
        return self._browser

    def close(self) -> None:
        """At the end of the session (tests/e2e/conftest.py)."""
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()
        self._browser = self._playwright = None


SHARED = _SharedBrowser()


@contextmanager
def chromium_page(viewport: dict | None = None) -> Iterator:
    """A page in a fresh browser context of the shared chromium, closed with its context."""
    require_chromium()
    context = SHARED.get().new_context(viewport=viewport or {"width": 1440, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


# What Playwright says when gradio's own reload wins: the navigation it waited for was aborted, or
# the page it sent the reload to was replaced meanwhile (seen once in a full run).
_RELOAD_RACES = ("ERR_ABORTED", "Not attached to an active page")


def reload_after_restart(page) -> None:
    """Load ``page`` afresh from its app, started again after it went away. gradio's page reloads
    itself once it reconnects (it tries every 2 s after a lost connection), and a reload of ours
    that meets that one is aborted, or finds the page it was sent to already replaced by it:
    either way the page then loads afresh, so wait for that."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.reload()
    except PlaywrightError as error:
        if not any(race in str(error) for race in _RELOAD_RACES):
            raise
        page.wait_for_load_state()


def open_studio(page, url: str) -> None:
    """Load the studio at ``url`` and wait until the page has its session: the owner id its load
    events put in local storage. An event sent before that is refused ("This page has no session
    yet"), as a user that quick would be told."""
    page.goto(url)
    page.wait_for_selector("#generate")
    page.wait_for_function(f"() => Boolean(localStorage.getItem({OWNER_STORAGE_KEY!r}))")


def wait_for_job(page, status: str = "succeeded", timeout: float = 180_000) -> None:
    """Until the progress panel shows the followed job in ``status``; a refusal (an error toast
    instead of a job) fails at once with the toast's sentence, which is what the user was told,
    instead of after ``timeout`` with nothing to go on."""
    seen = page.wait_for_function(
        """(status) => {
            if (document.querySelector(`#job-progress [data-status="${status}"]`)) return {status};
            const toast = [...document.querySelectorAll('.toast-body.error')][0];
            return toast ? {toast: toast.innerText} : false;
        }""", arg=status, timeout=timeout).json_value()
    assert seen.get("status") == status, f"the page was refused instead: {seen.get('toast')!r}"
