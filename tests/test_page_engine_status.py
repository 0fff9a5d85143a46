"""The engine the page names is the engine Generate uses: both ask ``EditService.engine``.

With an allow-list for the server's key, a visitor who is not on it (here: not signed in) is told
"local preview" from the first paint and after every change, and is never shown a price for the
server's key; with no allow-list the same page offers the server's key. The page runs in-process
(its ASGI app, no server), driven by the events a browser sends.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from components.config import Settings
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from components.secret import Secret
from tests.e2e.page_protocol import Page, Tab
from tests.inprocess import asgi_page
from tests.services import make_service

SERVER = Secret("server-key-for-the-page")


def _status_events(page: Page) -> tuple[str, list[dict]]:
    """The initial engine panel, and the events that repaint it first thing (page load, tier change;
    not the key field's, which empty the field first)."""
    comp = next(c for c in page.config["components"] if c.get("props", {}).get("elem_id") == "engine-status")
    events = [d for d in page.config["dependencies"]
              if d.get("backend_fn") and d["outputs"][:1] == [comp["id"]]]
    return comp["props"]["value"], events


async def _painted(settings: Settings) -> list[str]:
    async with asgi_page(settings) as (page, http):
        first, events = _status_events(page)
        tab = Tab(http)
        answers = [await tab.predict(e, [None, settings.model_id]) for e in events]
    return [first, *(a["data"][0] for a in answers)]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", scratch_dir=tmp_path / "scratch", fal_key=SERVER)


def test_a_visitor_outside_the_allow_list_is_shown_the_local_preview(settings):
    listed = replace(settings, allowed_hf_users=("alice",))
    painted = asyncio.run(_painted(listed))
    assert len(painted) == 3  # the first paint, the repaint (load, duration, tier), "Forget my key"
    for html in painted:
        assert "engine-local" in html and "Local preview, free" in html
        assert "only for the Hugging Face users its owner allowed" in html
        # A price only as what Kling O1 would cost with a key of one's own, never an estimate of a run.
        assert "With a fal key, Kling O1 would cost" in html and "Estimated cost" not in html


def test_without_an_allow_list_the_page_offers_the_servers_key_with_its_price(settings):
    price = f"${settings.tiers[0].price_per_second:.3f} per second"
    for html in asyncio.run(_painted(settings)):
        assert "engine-fal" in html and "this server&#x27;s key" in html and price in html


def test_the_allow_list_decides_by_the_signed_in_name(settings, tmp_path):
    """The one function the panel and every command ask: listed names (any case) get the server's
    key, everyone else the local preview; a user's own key always wins."""
    listed = replace(settings, allowed_hf_users=("alice",))
    store = JobStore(listed.data_dir / "jobs.sqlite3")
    runner = JobRunner(store, listed)
    try:
        service = make_service(listed, runner, store, [tmp_path])
        assert service.engine(None, "alice").key_source == "server"
        assert service.engine(None, "mallory").name == service.engine(None, None).name == "local"
        assert service.engine(Secret("own-key"), "mallory").key_source == "user"
    finally:
        runner.close()
