"""Jobs this process is running: the newest snapshot in memory, fanned out to watchers, written
to the store without letting a chatty engine turn every event into a database write.

Any number of tabs on any loop can ``watch`` a job. Phase changes, the fal request id and the final
state are written at once (what a restart needs); progress at most every ``persist_every_s``,
with a trailing write so the newest state always lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, fields, replace

from components.engines.base import CancelToken, ProgressEvent
from components.errors import InputError
from components.jobs.models import MAX_LOG_LINES, Job
from components.jobs.store import JobStore

_NEVER_WRITTEN_BY_RUNNER = {"id", "owner", "created_at"}
_RUNNER_FIELDS = [f.name for f in fields(Job) if f.name not in _NEVER_WRITTEN_BY_RUNNER]

# (delay seconds, callback): run callback later on the runner's loop, from any thread.
CallLater = Callable[[float, Callable[[], None]], None]


@dataclass
class LiveJob:
    """A job this process is running: its newest snapshot and what persisting needs."""

    job: Job
    saved: Job  # what the store holds; a write sends only the fields that differ
    cancel: CancelToken = field(default_factory=CancelToken)
    # Engines may call on_event from worker threads; reentrant so an event's read-modify-publish
    # holds it across publish.
    lock: threading.RLock = field(default_factory=threading.RLock)
    saved_at: float = 0.0
    flush_scheduled: bool = False
    started: bool = False  # holds an engine slot; a cancel before that costs nothing


class LiveJobs:
    def __init__(self, store: JobStore, call_later: CallLater, *, persist_every_s: float = 0.25,
                 watch_tick_s: float = 1.0, watch_min_gap_s: float = 0.1) -> None:
        self._store = store
        self._call_later = call_later
        self._persist_every_s = persist_every_s
        self.watch_tick_s = watch_tick_s  # how often a watcher looks even when nothing announced a change
        self._watch_min_gap_s = watch_min_gap_s
        self._lock = threading.Lock()
        self._live: dict[str, LiveJob] = {}
        self._watchers: dict[str, set[Callable[[], None]]] = {}

    # ----- the registry ------------------------------------------------------------------------

    def add(self, job: Job) -> LiveJob:
        live = LiveJob(job=job, saved=job, saved_at=time.time())
        with self._lock:
            self._live[job.id] = live
        self.notify(job.id)
        return live

    def remove(self, live: LiveJob) -> None:
        """The job is no longer run here: readers get it from the store from now on."""
        self._drop(live)
        self.notify(live.job.id)

    def _drop(self, live: LiveJob) -> None:
        # Only this run's entry: a retry of a parent that just ended registers a new one under the
        # same id while the old run is still leaving.
        with self._lock:
            if self._live.get(live.job.id) is live:
                del self._live[live.job.id]

    def get(self, job_id: str) -> LiveJob | None:
        with self._lock:
            return self._live.get(job_id)

    def is_live(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._live

    def current(self) -> dict[str, Job]:
        """Every live job's newest snapshot, by id."""
        with self._lock:
            return {job_id: entry.job for job_id, entry in self._live.items()}

    def snapshot(self, job_id: str, owner: str) -> Job | None:
        """The newest state of ``owner``'s job: live if this process runs it, else as stored."""
        live = self.get(job_id)
        if live is not None:
            return live.job if live.job.owner == owner else None
        return self._store.get_for_owner(job_id, owner)

    # ----- changes -----------------------------------------------------------------------------

    def on_event(self, live: LiveJob, event: ProgressEvent) -> None:
        """An engine's progress event as a change of the job (from any thread)."""
        with live.lock:
            changes: dict = {"phase": event.phase, "message": event.message}
            urgent = event.phase != live.job.phase
            if event.fraction is not None:
                changes["fraction"] = event.fraction
            if event.logs:
                changes["logs"] = (live.job.logs + tuple(event.logs))[-MAX_LOG_LINES:]
            if event.request_id and event.request_id != live.job.request_id:
                changes["request_id"] = event.request_id
                urgent = True  # the one fact a restart needs to find a paid job again
            if all(getattr(live.job, name) == value for name, value in changes.items()):
                return  # a poll that found nothing new: no write, and no watcher woken for it
            self.publish(live, urgent=urgent, **changes)

    def publish(self, live: LiveJob, *, urgent: bool, **changes: object) -> None:
        """New snapshot for watchers now; the store now if urgent, else at most every persist_every_s."""
        now = time.time()
        with live.lock:
            if live.job.is_finished:  # final is final: a late cancel or engine event changes nothing
                return
            live.job = replace(live.job, updated_at=now, **changes)
            wait = self._persist_every_s - (now - live.saved_at)
            if urgent or wait <= 0:
                self._persist_locked(live)
                if live.job.is_finished:
                    # Stored final: readers get the record from now on, not the driver's copy, so
                    # a Retry sent the moment a page shows the end never finds the job still held.
                    self._drop(live)
            elif not live.flush_scheduled:
                live.flush_scheduled = True
                self._call_later(wait, lambda: self._flush(live))
        self.notify(live.job.id)

    def _flush(self, live: LiveJob) -> None:
        with live.lock:
            live.flush_scheduled = False
            self._persist_locked(live)

    def _persist_locked(self, live: LiveJob) -> None:
        changed = {name: getattr(live.job, name) for name in _RUNNER_FIELDS
                   if getattr(live.job, name) != getattr(live.saved, name)}
        if changed:
            self._store.update(live.job.id, **changed)
        live.saved = live.job
        live.saved_at = time.time()

    # ----- watchers ----------------------------------------------------------------------------

    def notify(self, job_id: str) -> None:
        """Wake every watcher of ``job_id`` (also for jobs changed in the store directly)."""
        with self._lock:
            wakes = list(self._watchers.get(job_id, ()))
        for wake in wakes:
            wake()

    async def changed(self, job_ids: Iterable[str], timeout: float) -> None:
        """Return when any of ``job_ids`` changes, or after ``timeout`` seconds: how a parent job
        follows its children without polling them."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

        ids = list(job_ids)
        with self._lock:
            for job_id in ids:
                self._watchers.setdefault(job_id, set()).add(wake)
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=timeout)
        finally:
            with self._lock:
                for job_id in ids:
                    self._watchers[job_id].discard(wake)
                    if not self._watchers[job_id]:
                        del self._watchers[job_id]

    async def newer(self, job_id: str, owner: str, seen: float | None, timeout: float,
                    gap: float) -> Job | None:
        """``owner``'s job once it is newer than the snapshot a page shows (``seen``, its
        ``updated_at``), within ``timeout`` seconds; None when nothing changed (or there is no such
        job of theirs). A change that ends the job (or parks it for a key) comes at once, any other
        no sooner than ``gap`` seconds after ``seen``, with every change of the meantime in it.

        How a page follows a job without holding a queue worker: each call is short, costs
        nothing while it waits (no thread, no worker), and a closed tab simply stops calling."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            job = self.snapshot(job_id, owner)
            if job is None or seen is None:
                return job
            news = job.updated_at > seen
            if job.is_finished or (news and job.is_at_rest):
                return job if news else None
            wait = deadline - loop.time()
            if news:
                wait = min(wait, seen + gap - time.time())
            if wait <= 0:
                return job if news else None
            await self.changed([job_id], wait)

    async def watch(self, job_id: str, owner: str) -> AsyncIterator[Job]:
        """Snapshots of a job on every change (at most one per ``watch_min_gap_s``, coalescing
        bursts) and at least every ``watch_tick_s``, from any loop.

        Ends after a final state, or at once for a job parked waiting for a key (nothing changes
        until the user gives one). Works for a job another tab or an earlier page load started.
        """
        if self.snapshot(job_id, owner) is None:
            raise InputError(f"There is no edit {job_id} in this browser's history.",
                             fix="Pick one from the history list.")
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the watching loop has closed: nobody to wake
                loop.call_soon_threadsafe(changed.set)

        with self._lock:
            self._watchers.setdefault(job_id, set()).add(wake)
        try:
            while True:
                changed.clear()  # before reading, so a change after the read still wakes us
                job = self.snapshot(job_id, owner)
                assert job is not None
                yield job
                if job.is_finished or (job.status == "waiting_for_key" and not self.is_live(job_id)):
                    return
                yielded = time.monotonic()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=self.watch_tick_s)
                # A chatty engine sends hundreds of events a second; a tab needs ten at most.
                await asyncio.sleep(max(0.0, self._watch_min_gap_s - (time.monotonic() - yielded)))
        finally:
            with self._lock:
                self._watchers[job_id].discard(wake)
                if not self._watchers[job_id]:
                    del self._watchers[job_id]
