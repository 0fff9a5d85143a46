"""The live set: which run of a job readers are given, around its end and a retry that follows it."""

from __future__ import annotations

import asyncio
import time

from components.jobs.live import LiveJobs
from components.jobs.store import JobStore
from tests.test_jobs_store import _request


def _never(delay: float, fn) -> None:
    raise AssertionError("a final state is stored at once, never later")


def test_a_stored_end_reads_from_the_store_and_a_leaving_run_never_drops_its_retry(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    live = LiveJobs(store, _never)
    job = store.create("owner-a", _request(tmp_path), "local", None)
    first = live.add(job)
    live.publish(first, urgent=True, status="failed", error="fal said no")
    # The end is stored and the job is no longer held: a Retry sent now finds it finished.
    assert not live.is_live(job.id) and live.snapshot(job.id, "owner-a").status == "failed"

    retried = live.add(store.update(job.id, status="queued", error=None, finished_at=None))
    live.remove(first)  # the first run's driver leaves after its retry started
    assert live.is_live(job.id) and live.get(job.id) is retried
    live.remove(retried)
    assert not live.is_live(job.id)


def test_a_follower_gets_progress_at_most_once_a_gap_and_the_end_at_once(tmp_path):
    """What a page's follow tick is answered: progress waits out the gap since the snapshot the page
    shows (all of the meantime's changes in one answer, or what there is when the ask's time is
    up); a job that ends is answered at once, however long the gap."""
    store = JobStore(tmp_path / "jobs.sqlite3")
    live = LiveJobs(store, _never)
    job = live.add(store.create("owner-a", _request(tmp_path), "local", None)).job

    async def follow() -> None:
        seen = job.updated_at
        live.publish(live.get(job.id), urgent=True, status="running", fraction=0.2)
        live.publish(live.get(job.id), urgent=True, fraction=0.5)
        asked = time.monotonic()
        held = await live.newer(job.id, "owner-a", seen, timeout=0.5, gap=600)
        assert held.fraction == 0.5 and time.monotonic() - asked >= 0.5  # held until the ask's end
        assert await live.newer(job.id, "owner-a", held.updated_at, timeout=0.05, gap=600) is None

        without_gap = asyncio.create_task(live.newer(job.id, "owner-a", held.updated_at, timeout=600, gap=0))
        live.publish(live.get(job.id), urgent=True, fraction=0.7)
        assert (await asyncio.wait_for(without_gap, 30)).fraction == 0.7

        ending = asyncio.create_task(live.newer(job.id, "owner-a", time.time(), timeout=600, gap=600))
        live.publish(live.get(job.id), urgent=True, status="succeeded", finished_at=time.time())
        assert (await asyncio.wait_for(ending, 30)).status == "succeeded"
        # Nothing comes after an end: a late ask is answered at once, with nothing.
        late = live.newer(job.id, "owner-a", time.time(), timeout=600, gap=0)
        assert await asyncio.wait_for(late, 30) is None

    asyncio.run(follow())
