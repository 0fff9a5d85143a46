"""Apps shared by every module that needs one of these set-ups. Each launched app costs seconds
of one core, mostly importing gradio, so the ones the selected tests use are launched side by side
as soon as collection ends (tests/conftest.py runs the unit tests first, so the apps start while
those run) and stopped when the session ends; so are the apps of modules with a ``prelaunch``
(see tests/e2e/app_server.py). The tests tell their own work apart without a fresh
app: each API call is its own session, each browser context its own owner, and what fal received
is counted as a difference from before the test."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.app_server import AppServer, launch_later, run_prelaunch
from tests.e2e.browser import SHARED
from tests.fakes.fal_fixtures import running_fake_fal

FAL_KEY = "test-key"  # the server key of ``fal_app``
SHARED_APPS = ("local_app", "fal_app", "mcp_app")

_apps: dict[str, tuple] = {}  # fixture name -> (fake fal,) app, once launched
_stack = ExitStack()


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    used = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    modules = {item.module.__name__: item.module for item in session.items
               if isinstance(item, pytest.Function) and hasattr(item.module, "prelaunch")}
    wanted = [name for name in SHARED_APPS if name in used]
    if not wanted and not modules:
        return
    root = Path(_stack.enter_context(tempfile.TemporaryDirectory(prefix="e2e-apps-")))
    if "local_app" in wanted:
        _apps["local_app"] = (AppServer(root / "local-app"),)
    if "fal_app" in wanted:
        # The budget and the per-address rate of the server key are raised out of the way:
        # modules sharing the app must not spend each other's allowance
        # (tests/e2e/test_server_budget.py tests those limits).
        fake = _stack.enter_context(running_fake_fal(keys=(FAL_KEY,), point_client=False))
        env = {"STUDIO_SERVER_BUDGET_USD_PER_DAY": "1000", "STUDIO_SERVER_EDITS_PER_IP_PER_HOUR": "1000"}
        _apps["fal_app"] = (fake, AppServer(root / "fal-app", fal_key=FAL_KEY, fake_fal_url=fake.url,
                                            env=env))
    if "mcp_app" in wanted:
        _apps["mcp_app"] = (AppServer(root / "mcp-app", env={"STUDIO_MCP": "1"}),)
    launch_later(_stack, *(parts[-1] for parts in _apps.values()))
    for name, module in sorted(modules.items()):
        folder = root / name.rsplit(".", 1)[-1]
        folder.mkdir()
        run_prelaunch(name, module.prelaunch, folder, _stack)


def pytest_sessionfinish(session: pytest.Session) -> None:
    _stack.close()  # the apps stop before their data folders go
    SHARED.close()


def _ready(name: str) -> tuple:
    parts = _apps[name]
    parts[-1].wait_ready()  # returns at once after the first test that asked
    return parts


@pytest.fixture(scope="session")
def local_app() -> AppServer:
    """The default settings: the local preview, no key."""
    return _ready("local_app")[0]


@pytest.fixture(scope="session")
def fal_app() -> tuple:
    """(fake fal, app) with the server key ``FAL_KEY``, which the fake accepts."""
    return _ready("fal_app")


@pytest.fixture(scope="session")
def mcp_app() -> AppServer:
    """The default settings plus STUDIO_MCP=1: the edit endpoint is also an MCP tool."""
    return _ready("mcp_app")[0]
