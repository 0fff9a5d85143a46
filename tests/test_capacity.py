"""A crowd at once: pages following their jobs, and long clips being prepared, leave gradio's
workers free for a newcomer's clip pre-check.

gradio runs at most 40 events at once (its max_threads, across every concurrency id). Before, a
page followed its job inside the Generate event, so forty followers took every worker; and a long
clip was planned and cut inside Generate, before any limit. Now Generate only records the job and
the page follows it on an unqueued timer tick. This is correctness, not timing: sixty followers
(more than the workers there are) and concurrent segmented requests must not stop the newcomer's
pre-check from running at all. ``bench/bench_capacity.py`` measures how fast it runs with hundreds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from components.config import MODEL_ID
from components.secret import Secret
from components.ui.follow import FOLLOW_TICK_S
from tests.e2e.page_protocol import Page, Tab, upload
from tests.fakes.fal_fixtures import running_fake_fal
from tests.inprocess import InProcess, running_studio
from tests.mediagen import make_clip

pytestmark = [pytest.mark.timeout(400), pytest.mark.slow]  # a crowd: run before the quick modules

KEY = "capacity-key:0123456789ab"
FOLLOWERS = 60  # more than gradio's 40 workers
SEGMENTED = 4


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[InProcess]:
    # fal keeps every job queued for minutes: the followers follow jobs that do not end meanwhile.
    with running_fake_fal(keys=(KEY,), queue_s=600), \
            running_studio(tmp_path_factory.mktemp("capacity-app"), fal_key=Secret(KEY),
                           server_budget_usd_per_day=100000, server_edits_per_ip_per_hour=100000) as studio:
        yield studio


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("capacity")
    return {"short": make_clip(d / "short.mp4", seconds=3.2, width=720, height=720, fps=24, crf=45,
                               source="color"),
            "long": make_clip(d / "long.mp4", seconds=10.5, width=720, height=720, fps=24, crf=45,
                              source="color", audio=False)}


def _generate_data(tab: Tab, clip: dict, *, segments: bool = False) -> list:
    return [tab.owner, clip, "Make it look like winter", [], [], False, MODEL_ID, 1, segments, 0.0]


async def _crowd(app: InProcess, clips: dict[str, Path]) -> dict:
    limits = httpx.Limits(max_connections=FOLLOWERS * 3)
    async with httpx.AsyncClient(base_url=app.url, timeout=120, limits=limits, trust_env=False) as http:
        page = await Page.load(http)
        generate, tick = page.event("generate", "click"), page.timer_tick()
        precheck = page.event("input-video", "change")
        short, long = await upload(http, clips["short"]), await upload(http, clips["long"])

        followers = [Tab(http) for _ in range(FOLLOWERS)]
        started = await asyncio.gather(*(t.call(generate, _generate_data(t, short)) for t in followers))
        # Every follower asks for news at once, and keeps asking on its timer.
        stop = asyncio.Event()
        seen: dict[int, list[str]] = {i: [] for i in range(FOLLOWERS)}

        async def follow(i: int, tab: Tab) -> None:
            while not stop.is_set():
                answer = await tab.predict(tick, [None, None, tab.owner])
                status = page.output_values(tick, answer["data"]).get("job-progress")
                if isinstance(status, dict) and "value" in status:
                    status = status["value"]
                if isinstance(status, str):
                    seen[i].append(status)
                await asyncio.sleep(FOLLOW_TICK_S)  # its timer's next tick

        following = [asyncio.create_task(follow(i, t)) for i, t in enumerate(followers)]
        segmented = [Tab(http) for _ in range(SEGMENTED)]
        long_generates = [asyncio.create_task(t.call(generate, _generate_data(t, long, segments=True)))
                          for t in segmented]
        newcomer = Tab(http)
        checked = await newcomer.call(precheck, [short], timeout=90)
        long_started = await asyncio.gather(*long_generates)
        stop.set()
        await asyncio.gather(*following)
        return {"started": started, "checked": checked, "long_started": long_started, "seen": seen,
                "page": page, "generate": generate, "precheck": precheck}


@pytest.fixture(scope="module")
def crowd(app, clips) -> dict:
    # A thread of its own: a browser test before this module may keep Playwright's loop running here.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _crowd(app, clips)).result()


def test_every_generate_answers_with_its_job_recorded(crowd):
    page, generate = crowd["page"], crowd["generate"]
    for message in [*crowd["started"], *crowd["long_started"]]:
        assert message["success"], message
        progress = page.output_values(generate, message["output"]["data"])["job-progress"]
        assert "data-status=" in str(progress), progress  # a job exists: the page shows its state


def test_sixty_followers_and_segmented_requests_leave_the_precheck_free_to_run(crowd):
    checked = crowd["checked"]
    assert checked["success"], checked
    preflight = crowd["page"].output_values(crowd["precheck"], checked["output"]["data"])["preflight"]
    assert "3.2 s" in str(preflight), preflight


def test_each_follower_sees_its_own_job(crowd):
    for i, statuses in crowd["seen"].items():
        assert statuses, f"follower {i} never got its job's state"
        assert all('data-status="' in s for s in statuses), statuses[-1]


def test_segmented_jobs_are_prepared_by_the_runner_after_generate_answered(crowd, app):
    """Generate answered before any segment existed: the long clips' first phase is the runner's."""
    page, generate = crowd["page"], crowd["generate"]
    for message in crowd["long_started"]:
        progress = str(page.output_values(generate, message["output"]["data"])["job-progress"])
        assert 'data-phase="preparing"' in progress, progress
