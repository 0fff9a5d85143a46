"""Apps shared by every module that needs one of these set-ups, launched side by side the first
time a test asks for one (only those the selected tests use): each launched app costs seconds,
mostly importing gradio. The tests tell their own work apart without a fresh app: each API call
is its own session, each browser its own owner, and what fal received is counted as a difference
from before the test."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.e2e.app_server import AppServer, running_apps
from tests.fakes.fal_fixtures import running_fake_fal

FAL_KEY = "test-key"  # the server key of ``fal_app``


@pytest.fixture(scope="session")
def _shared_apps(request, tmp_path_factory) -> dict[str, tuple]:
    used = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    with ExitStack() as stack:
        made: dict[str, tuple] = {}
        if "local_app" in used:
            made["local_app"] = (AppServer(tmp_path_factory.mktemp("local-app")),)
        if "fal_app" in used:
            # The budget and the per-address rate of the server key are raised out of the way:
            # modules sharing the app must not spend each other's allowance
            # (tests/e2e/test_server_budget.py tests those limits).
            fake = stack.enter_context(running_fake_fal(keys=(FAL_KEY,), point_client=False))
            env = {"STUDIO_SERVER_BUDGET_USD_PER_DAY": "1000", "STUDIO_SERVER_EDITS_PER_IP_PER_HOUR": "1000"}
            made["fal_app"] = (fake, AppServer(tmp_path_factory.mktemp("fal-app"), fal_key=FAL_KEY,
                                               fake_fal_url=fake.url, env=env))
        if "mcp_app" in used:
            made["mcp_app"] = (AppServer(tmp_path_factory.mktemp("mcp-app"), env={"STUDIO_MCP": "1"}),)
        stack.enter_context(running_apps(*(parts[-1] for parts in made.values())))
        yield made


@pytest.fixture(scope="session")
def local_app(_shared_apps) -> AppServer:
    """The default settings: the local preview, no key."""
    return _shared_apps["local_app"][0]


@pytest.fixture(scope="session")
def fal_app(_shared_apps) -> tuple:
    """(fake fal, app) with the server key ``FAL_KEY``, which the fake accepts."""
    return _shared_apps["fal_app"]


@pytest.fixture(scope="session")
def mcp_app(_shared_apps) -> AppServer:
    """The default settings plus STUDIO_MCP=1: the edit endpoint is also an MCP tool."""
    return _shared_apps["mcp_app"][0]
