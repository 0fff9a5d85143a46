"""Under CI a missing chromium fails the browser tests; only a local run may skip them."""

from __future__ import annotations

import pytest

from tests.e2e.browser import require_chromium

MISSING = "/nonexistent/chromium"


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_missing_chromium_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="missing"):
        require_chromium(MISSING)


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_missing_chromium_skips_locally(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        require_chromium(MISSING)
