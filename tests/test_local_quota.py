"""The local preview's fair share: each owner and each address may have a few local edits in line
and a number of seconds of local work an hour, counted from the jobs' own records."""

from __future__ import annotations

import pytest

from components.admission.local_quota import LocalQuota
from components.errors import RateLimitError
from components.jobs.models import Job

NOW = 1_000_000.0


def _job(job_id: str, owner: str, status: str, started: float | None = None,
         finished: float | None = None) -> Job:
    return Job(id=job_id, owner=owner, engine="local", key_source=None, status=status, request={},
               created_at=NOW - 100, updated_at=NOW, started_at=started, finished_at=finished)


class Jobs:
    """Job records by id, as the runner's snapshot reads them."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}

    def __call__(self, job_id: str, owner: str) -> Job | None:
        job = self.jobs.get(job_id)
        return job if job is not None and job.owner == owner else None


def test_an_owner_may_have_only_so_many_local_edits_in_line():
    jobs, quota = Jobs(), LocalQuota(jobs_queued=3, seconds_per_hour=600, clock=lambda: NOW)
    for i in range(2):
        jobs.jobs[f"j{i}"] = _job(f"j{i}", "a", "queued")
        quota.started("a", "198.51.100.1", f"j{i}", 1)
    quota.admit("a", "198.51.100.1", 1, jobs)  # a third fits
    with pytest.raises(RateLimitError, match="You have 2 local preview edits waiting") as refused:
        quota.admit("a", "198.51.100.1", 2, jobs)  # two takes more do not
    assert "3 at a time" in str(refused.value) and "fal key" in str(refused.value)
    jobs.jobs["j0"] = _job("j0", "a", "succeeded", NOW - 30, NOW - 20)
    quota.admit("a", "198.51.100.1", 2, jobs)  # one ended: two fit again


def test_new_owner_ids_from_one_address_share_its_line():
    """A script mints owner ids at will; its address is what it cannot change."""
    jobs, quota = Jobs(), LocalQuota(jobs_queued=2, seconds_per_hour=600, clock=lambda: NOW)
    for i, owner in enumerate(["x1", "x2"]):
        jobs.jobs[f"j{i}"] = _job(f"j{i}", owner, "queued")
        quota.started(owner, "203.0.113.9", f"j{i}", 1)
    with pytest.raises(RateLimitError, match="Your address has 2"):
        quota.admit("x3", "203.0.113.9", 1, jobs)
    quota.admit("x3", "203.0.113.10", 1, jobs)  # another address is not held back by it


def test_an_hour_of_local_work_is_capped_and_says_when_to_come_back():
    clock = [NOW]
    jobs, quota = Jobs(), LocalQuota(jobs_queued=5, seconds_per_hour=600, clock=lambda: clock[0])
    jobs.jobs["long"] = _job("long", "a", "succeeded", started=NOW - 650, finished=NOW - 10)
    quota.started("a", "198.51.100.1", "long", 1)
    with pytest.raises(RateLimitError, match="used 11 min of the local preview") as refused:
        quota.admit("a", "198.51.100.1", 1, jobs)
    assert "Try again in 60 min" in str(refused.value)
    clock[0] = NOW + 3600  # an hour after it started counting, it no longer does
    quota.admit("a", "198.51.100.1", 1, jobs)
    assert len(quota._started) == 0  # keys with nothing left in the window are forgotten


def test_work_outside_a_job_runs_one_at_a_time_per_owner_and_per_address():
    jobs, quota = Jobs(), LocalQuota(jobs_queued=3, seconds_per_hour=600, clock=lambda: NOW)
    with quota.tool("a", "198.51.100.1", jobs):
        with (pytest.raises(RateLimitError, match="You have a clip being fixed already"),
              quota.tool("a", "198.51.100.2", jobs)):
            pass
        with (pytest.raises(RateLimitError, match="Your address has a clip being fixed already"),
              quota.tool("b", "198.51.100.1", jobs)):
            pass
        with quota.tool("b", "198.51.100.2", jobs):  # someone else, elsewhere: not held up
            pass
    with quota.tool("a", "198.51.100.1", jobs):  # the first ended: the next may start
        pass


def test_the_seconds_work_outside_a_job_used_count_in_the_same_hour_as_local_edits():
    clock = [NOW]
    jobs, quota = Jobs(), LocalQuota(jobs_queued=3, seconds_per_hour=600, clock=lambda: clock[0])
    jobs.jobs["j"] = _job("j", "a", "succeeded", started=NOW - 400, finished=NOW - 100)
    quota.started("a", "198.51.100.1", "j", 1)
    with quota.tool("a", "198.51.100.1", jobs) as use:
        use.seconds = 299.0  # 300 s of the job plus 299 s of fixing: one second left
    quota.admit("a", "198.51.100.1", 1, jobs)
    with quota.tool("a", "198.51.100.1", jobs) as use:
        use.seconds = 1.0
    with pytest.raises(RateLimitError, match="used 10 min of the local preview"):
        quota.admit("a", "198.51.100.1", 1, jobs)
    with (pytest.raises(RateLimitError, match="used 10 min"),
          quota.tool("a", "198.51.100.9", jobs)):  # the owner's share, from another address
        pass
    clock[0] = NOW + 3601  # an hour later the window holds none of it, and forgets the keys
    quota.admit("a", "198.51.100.1", 1, jobs)
    assert len(quota._started) == 0
