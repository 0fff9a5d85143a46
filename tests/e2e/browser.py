"""Playwright (Python) driving Debian's /usr/bin/chromium: `npx playwright install` cannot download here."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

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


@contextmanager
def chromium_page(viewport: dict | None = None) -> Iterator:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = browser.new_context(viewport=viewport or {"width": 1440, "height": 1000})
            yield context.new_page()
        finally:
            browser.close()
