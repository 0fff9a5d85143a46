"""The live set: which run of a job readers are given, around its end and a retry that follows it."""

from __future__ import annotations

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
