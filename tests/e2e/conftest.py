"""Apps shared by every module that needs one of these set-ups: each launched app costs seconds,
mostly importing gradio. The first test that asks for one launches, side by side, every shared
app the tests of its xdist group use (the group runs on one worker; see tests/conftest.py). The
tests tell their own work apart without a fresh app: each API call is its own session, each
browser its own owner, and what fal received is counted as a difference from before the test."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.app_server import AppServer, running_apps
from tests.fakes.fal_fixtures import running_fake_fal

FAL_KEY = "test-key"  # the server key of ``fal_app``


def _local(stack: ExitStack, folder: Path) -> tuple:
    return (AppServer(folder),)


def _fal(stack: ExitStack, folder: Path) -> tuple:
    # The budget and the per-address rate of the server key are raised out of the way: modules
    # sharing the app must not spend each other's allowance (tests/e2e/test_server_budget.py
    # tests those limits).
    fake = stack.enter_context(running_fake_fal(keys=(FAL_KEY,), point_client=False))
    env = {"STUDIO_SERVER_BUDGET_USD_PER_DAY": "1000", "STUDIO_SERVER_EDITS_PER_IP_PER_HOUR": "1000"}
    return fake, AppServer(folder, fal_key=FAL_KEY, fake_fal_url=fake.url, env=env)


def _mcp(stack: ExitStack, folder: Path) -> tuple:
    return (AppServer(folder, env={"STUDIO_MCP": "1"}),)


# fixture name -> what it is made of (an AppServer last), launched together with the others
SHARED: dict[str, Callable[[ExitStack, Path], tuple]] = {"local_app": _local, "fal_app": _fal,
                                                         "mcp_app": _mcp}


def _group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return mark.args[0] if mark else None


_setting_up: list[pytest.Item] = []  # the test whose fixtures are being set up (a session fixture's
# request names only the session)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _setting_up[:] = [item]


class _SharedApps:
    """The shared apps launched so far in this process, stopped when the session ends."""

    def __init__(self, session: pytest.Session, folders: pytest.TempPathFactory, stack: ExitStack) -> None:
        self.session, self.folders, self.stack = session, folders, stack
        self.made: dict[str, tuple] = {}

    def get(self, name: str) -> tuple:
        if name not in self.made:
            group = _group(_setting_up[0])
            wanted = {name} | {used for item in self.session.items if _group(item) == group
                               for used in getattr(item, "fixturenames", ()) if used in SHARED}
            made = {n: SHARED[n](self.stack, self.folders.mktemp(n)) for n in sorted(wanted - set(self.made))}
            self.stack.enter_context(running_apps(*(parts[-1] for parts in made.values())))
            self.made.update(made)
        return self.made[name]


@pytest.fixture(scope="session")
def _shared_apps(request, tmp_path_factory) -> _SharedApps:
    with ExitStack() as stack:
        yield _SharedApps(request.session, tmp_path_factory, stack)


@pytest.fixture(scope="session")
def local_app(_shared_apps) -> AppServer:
    """The default settings: the local preview, no key."""
    return _shared_apps.get("local_app")[0]


@pytest.fixture(scope="session")
def fal_app(_shared_apps) -> tuple:
    """(fake fal, app) with the server key ``FAL_KEY``, which the fake accepts."""
    return _shared_apps.get("fal_app")


@pytest.fixture(scope="session")
def mcp_app(_shared_apps) -> AppServer:
    """The default settings plus STUDIO_MCP=1: the edit endpoint is also an MCP tool."""
    return _shared_apps.get("mcp_app")[0]
