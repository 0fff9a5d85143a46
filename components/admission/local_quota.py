"""A fair share of the local preview: this machine's CPU, which every visitor shares.

Each owner id and each client address may have ``local_jobs_queued`` local edits waiting or running,
and use ``local_seconds_per_hour`` seconds of local work per hour (from the moment a job takes its
local slot to its end, side-by-side included). A script can mint owner ids, not addresses, so both
count. The runner serves local slots round-robin across owners (``jobs/slots.py``); this caps what
one client can put in line at all.

What a job used is read from its own record (``started_at`` to ``finished_at``), so nothing here has
to be told when a job ends; the window (``windows.SlidingWindow``) only remembers which jobs a key
started, for an hour.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from components.errors import RateLimitError
from components.guard.windows import SlidingWindow
from components.jobs.models import IN_FLIGHT_STATUSES, Job

WINDOW_S = 3600.0
JobReader = Callable[[str, str], Job | None]  # (job id, owner) -> its current record
FREE_ALTERNATIVE = "Or paste a fal key to run Kling O1 at fal instead of on this machine."


@dataclass(frozen=True)
class _Started:
    job_id: str  # "" for work outside any job (Fix it)
    owner: str
    runs: int  # a set of takes or a long clip's segments is one job of several runs
    seconds: float = 0.0  # work outside any job: what it used (jobs are read from their record)


@dataclass
class ToolUse:
    seconds: float = 0.0  # CPU work done, as its caller measured it


class LocalQuota:
    def __init__(self, jobs_queued: int, seconds_per_hour: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.jobs_queued = jobs_queued
        self.seconds_per_hour = seconds_per_hour
        self._clock = clock
        self._started: SlidingWindow[_Started] = SlidingWindow(WINDOW_S, clock)  # wall clock, like jobs
        self._tools: set[str] = set()  # keys with work outside a job running now
        self._lock = self._started.lock

    def admit(self, owner: str, address: str, count: int, job: JobReader) -> None:
        """Raise ``RateLimitError`` unless ``count`` more local edits fit both the owner's and the
        address's share; ``job(job_id, owner)`` reads a job's current record."""
        now = self._clock()
        with self._lock:
            for key, who in _keys(owner, address):
                jobs = self._jobs(key, job)
                waiting = sum(runs for j, runs in jobs if j.status in IN_FLIGHT_STATUSES)
                if waiting + count > self.jobs_queued:
                    raise RateLimitError(
                        f"{who} {waiting} local preview edit{'s' * (waiting != 1)} waiting or running; the "
                        f"preview runs on this server's shared CPU, {self.jobs_queued} at a time per visitor"
                        + (f", and this one is {count} runs." if count > 1 else "."),
                        fix=f"Wait for one to finish, or cancel one. {FREE_ALTERNATIVE}")
                self._check_seconds(key, who, now, jobs)

    def started(self, owner: str, address: str, job_id: str, runs: int) -> None:
        """Count the job just recorded for ``owner`` from ``address`` against both shares."""
        with self._lock:
            for key, _ in _keys(owner, address):
                self._started.add(key, _Started(job_id, owner, runs))

    @contextlib.contextmanager
    def tool(self, owner: str, address: str, job: JobReader) -> Iterator[ToolUse]:
        """Hold the share for work a page asks for outside any job (Fix it re-encodes a clip): one
        at a time per owner and per address; the seconds the caller reports in the ``ToolUse``
        (its work, not its wait for a slot) count in the same hour as local edits. Raises
        ``RateLimitError`` when one is already running or the hour's share is spent."""
        keys = _keys(owner, address)
        began = self._clock()
        with self._lock:
            for key, who in keys:
                if key in self._tools:
                    raise RateLimitError(f"{who} a clip being fixed already; the studio fixes one clip at a "
                                         "time per visitor, on the CPU that everyone shares.",
                                         fix="Wait for that one to finish, then try again.")
                self._check_seconds(key, who, began, self._jobs(key, job))
            self._tools.update(key for key, _ in keys)
        use = ToolUse()
        try:
            yield use
        finally:
            with self._lock:
                for key, _ in keys:
                    self._tools.discard(key)
                    self._started.add(key, _Started("", owner, 0, seconds=max(0.0, use.seconds)))

    def _jobs(self, key: str, job: JobReader) -> list[tuple[Job, int]]:
        return [(j, s.runs) for s in self._started.values(key) if s.job_id and (j := job(s.job_id, s.owner))]

    def _check_seconds(self, key: str, who: str, now: float, jobs: list[tuple[Job, int]]) -> None:
        used = (sum(_seconds_used(j, now) for j, _ in jobs)
                + sum(s.seconds for s in self._started.values(key)))
        if used >= self.seconds_per_hour:
            wait_min = max(1, math.ceil(self._started.wait_s(key) / 60))
            raise RateLimitError(
                f"{who} used {used / 60:.0f} min of the local preview in the last hour (a share of "
                f"{self.seconds_per_hour / 60:.0f} min per visitor, so everyone gets a turn).",
                fix=f"Try again in {wait_min} min. {FREE_ALTERNATIVE}")


def _keys(owner: str, address: str) -> tuple[tuple[str, str], ...]:
    return (f"owner:{owner}", "You have"), (f"address:{address}", "Your address has")


def _seconds_used(job: Job, now: float) -> float:
    if job.started_at is None:
        return 0.0
    end = job.finished_at if job.finished_at is not None else now
    return max(0.0, end - job.started_at)
