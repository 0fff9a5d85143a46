"""Apps shared by every module that needs one of these two set-ups: each launched app costs
seconds (mostly importing gradio), and these tests tell their own work apart without a fresh app
(each API call is its own session, each browser its own owner, and what fal received is counted
as a difference from before the test)."""

from __future__ import annotations

import pytest

from tests.e2e.app_server import running_app
from tests.fakes.fal_fixtures import running_fake_fal

FAL_KEY = "test-key"  # the server key of ``fal_app``


@pytest.fixture(scope="session")
def local_app(tmp_path_factory):
    """The default settings: the local preview, no key."""
    with running_app(tmp_path_factory.mktemp("local-app")) as app:
        yield app


@pytest.fixture(scope="session")
def fal_app(tmp_path_factory):
    """(fake fal, app) with the server key ``FAL_KEY``, which the fake accepts. The server key's
    daily budget and per-address rate are raised out of the way: modules sharing the app must not
    spend each other's allowance (tests/e2e/test_server_budget.py tests those limits)."""
    env = {"STUDIO_SERVER_BUDGET_USD_PER_DAY": "1000", "STUDIO_SERVER_EDITS_PER_IP_PER_HOUR": "1000"}
    with running_fake_fal(keys=(FAL_KEY,)) as fake, \
            running_app(tmp_path_factory.mktemp("fal-app"), fal_key=FAL_KEY, fake_fal_url=fake.url,
                        env=env) as app:
        yield fake, app
