"""The server's key is the owner's money: a daily budget and a per-address rate hold against many
sessions at once, a refused visitor is told to bring their own key, and the deep-link route that
would serialise a session's state is not served."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from components.config import Settings
from components.secret import Secret
from tests.e2e.app_server import api_client, close_soon
from tests.fakes.fal_fixtures import running_fake_fal
from tests.inprocess import InProcess, running_studio
from tests.mediagen import make_clip

pytestmark = pytest.mark.slow  # fifty sessions at once: run before the quick modules

SERVER_KEY = "server-key-id:owner-money-0123456789"
VISITOR_KEY = "visitor-key-id:their-own-money-0123456"
SESSIONS = 50
BUDGET_EDITS = 4
SECONDS = 3.2


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The cheapest clip fal accepts (720x720, 24 fps, flat): what is counted is edits, not pictures."""
    return make_clip(tmp_path_factory.mktemp("budget") / "clip.mp4", seconds=SECONDS, width=720, height=720,
                     fps=24, source="color", crf=45, audio=False)


@pytest.fixture
def budgeted(tmp_path) -> Iterator[tuple]:
    """A daily budget with room for BUDGET_EDITS edits (not one more), on a fake fal of its own:
    (fake, studio, budget)."""
    per_edit = Settings().cost(SECONDS)
    budget = BUDGET_EDITS * per_edit + per_edit / 2
    with running_fake_fal(keys=(SERVER_KEY, VISITOR_KEY), queue_s=0.5, run_s=0.5) as fake, \
            running_studio(tmp_path, fal_key=Secret(SERVER_KEY), server_budget_usd_per_day=budget,
                           server_edits_per_ip_per_hour=1000) as studio:
        yield fake, studio, f"{budget:.3f}"


@pytest.fixture(scope="module")
def rated(tmp_path_factory) -> Iterator[tuple[object, InProcess]]:
    """An hourly rate of 2 edits per address, on a fake fal of its own: (fake, studio)."""
    with running_fake_fal(keys=(SERVER_KEY,), queue_s=0.2, run_s=0.2) as fake, \
            running_studio(tmp_path_factory.mktemp("rate"), fal_key=Secret(SERVER_KEY),
                           server_edits_per_ip_per_hour=2) as studio:
        yield fake, studio


def _edit(url: str, clip, headers: dict[str, str] | None = None, client: Client | None = None,
          fal_key: str = "") -> str:
    client = client or api_client(url, headers)
    try:
        client.predict(video=handle_file(str(clip)), prompt="Make it black and white", images=[], elements=[],
                       keep_audio=False, fal_key=fal_key, api_name="/edit")
        return "edited"
    except AppError as refused:
        return str(refused)
    finally:
        close_soon(client)


def test_fifty_sessions_get_exactly_the_budgeted_edits(budgeted, clip):
    fake, app, budget = budgeted
    # Sessions connect one after another (each reads the page's config), then all edit at once.
    clients = [api_client(app.url) for _ in range(SESSIONS)]
    with ThreadPoolExecutor(SESSIONS) as pool:
        outcomes = list(pool.map(lambda c: _edit(app.url, clip, client=c), clients))
    assert fake.submits == BUDGET_EDITS
    assert outcomes.count("edited") == BUDGET_EDITS
    refused = [o for o in outcomes if o != "edited"]
    assert len(refused) == SESSIONS - BUDGET_EDITS
    assert all("daily budget" in o and "Paste your own fal key" in o for o in refused), refused[:3]
    print(f"\nbudget: {SESSIONS} sessions, budget ${budget} -> {fake.submits} submits, "
          f"{len(refused)} refused")
    # A visitor with their own key is not held back by the owner's budget.
    assert _edit(app.url, clip, fal_key=VISITOR_KEY) == "edited"
    assert fake.submits == BUDGET_EDITS + 1


def test_each_address_gets_its_hourly_share_whatever_session_it_claims(rated, clip):
    """Each gradio_client call is a fresh session; the address is what counts. The test client sits
    behind loopback, a trusted proxy, so X-Forwarded-For names the visitor (as a Space's proxy
    does; a forged header from an untrusted peer is tests/test_spend.py's case)."""
    fake, app = rated
    visitor = {"X-Forwarded-For": "203.0.113.7"}
    outcomes = [_edit(app.url, clip, visitor) for _ in range(3)]
    assert outcomes[:2] == ["edited", "edited"]
    assert "Your address has started 2 edits" in outcomes[2] and "Paste your own fal key" in outcomes[2]
    assert _edit(app.url, clip, {"X-Forwarded-For": "203.0.113.8"}) == "edited"
    assert fake.submits == 3


def test_deep_links_are_not_served(rated):
    _, app = rated  # any app of the studio: the route is not served whatever the settings
    answer = httpx.get(app.url + "gradio_api/deep_link", params={"session_hash": "abc"}, timeout=10,
                       trust_env=False)
    assert answer.status_code == 404
