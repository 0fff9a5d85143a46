"""Where the page shows that an event runs (components/ui/shown.py), read from the ``/config`` a
browser loads: an event with hidden progress marks no component, one with shown progress marks one,
so the few components that ever carry a loading status are the ones a spinner means something on.
Each status change makes the page visit every component that ever had one."""

from __future__ import annotations

import asyncio

from components.config import Settings
from tests.inprocess import asgi_page

# The components a spinner means something on: the clip while an example or Fix it loads it, its
# checks, the long-clip timeline, the result while it is restored, chosen or compared, the history,
# the reference images box, the share link and the list of links.
SPINNER_PLACES = {"input-video", "preflight", "segment-timeline", "result-player", "history-gallery",
                  "add-images", "share-link", "share-links"}


async def _config(settings: Settings) -> dict:
    async with asgi_page(settings) as (page, _):
        return page.config


def _marked(event: dict) -> list[int]:
    """The components gradio gives this event's loading status to (its JS does the same)."""
    return event["outputs"] if event["show_progress_on"] is None else event["show_progress_on"]


def test_hidden_progress_marks_nothing_and_shown_progress_marks_one_component(tmp_path):
    config = asyncio.run(_config(Settings(data_dir=tmp_path / "data", scratch_dir=tmp_path / "scratch")))
    names = {c["id"]: c.get("props", {}).get("elem_id") or c["type"] for c in config["components"]}
    # The page's events: gr.api endpoints have no trigger on the page, and an event without
    # outputs has no status to show.
    events = [e for e in config["dependencies"] if e["backend_fn"] and e["targets"] and e["outputs"]]
    assert len(events) > 40
    for event in events:
        marked = [names[i] for i in _marked(event)]
        if event["show_progress"] == "hidden":
            assert marked == [], (event["id"], marked)
        else:
            assert len(marked) == 1, (event["id"], event["show_progress"], marked)
    places = {names[i] for event in events for i in _marked(event)}
    assert places - {"column"} == SPINNER_PLACES  # "column": a gr.render's own output, redrawn
