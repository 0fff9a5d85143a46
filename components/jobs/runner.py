"""Runs edits on the server's own event loop, so no browser request owns a paid job.

A gradio handler calls ``submit`` and then ``watch``es; closing the tab only ends the watching. The
runner keeps one asyncio loop in a daemon thread, publishes every job's newest snapshot in memory
(any number of tabs on any loop can watch it) and writes it to the store: phase changes, the fal
request id and the final state at once, progress a few times a second. After a restart
``recover`` picks up what a previous process left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from components.config import Settings
from components.engines.base import CancelToken, EditResult, Engine, ProgressEvent
from components.errors import EngineError, InputError, JobCancelled, StudioError
from components.jobs.models import MAX_LOG_LINES, Job, KeySource
from components.jobs.retention import apply_retention
from components.jobs.store import JobStore
from components.media.compare import side_by_side
from components.request import EditRequest, Element
from components.request_id import check_request_id

log = logging.getLogger(__name__)

# (original, edited, out_path, *, on_progress=fraction callback): components.media.compare's shape.
SideBySide = Callable[..., object]

INTERRUPTED_BEFORE_SUBMIT = ("Interrupted by a restart before it was submitted; nothing was charged — "
                             "run it again.")
INTERRUPTED_LOCAL = ("Interrupted by a restart while the local preview was running; nothing was charged — "
                     "run it again.")
INTERNAL_FAILURE = ("The edit stopped because of an unexpected error inside the studio (job {id}). "
                    "Run it again; if it keeps failing, report the job id.")
_NEVER_WRITTEN_BY_RUNNER = {"id", "owner", "created_at"}
_RUNNER_FIELDS = [f.name for f in fields(Job) if f.name not in _NEVER_WRITTEN_BY_RUNNER]


@dataclass
class _Live:
    """A job this process is running: its newest snapshot and what persisting needs."""

    job: Job
    saved: Job  # what the store holds; a write sends only the fields that differ
    cancel: CancelToken = field(default_factory=CancelToken)
    # Engines may call on_event from worker threads; reentrant so an event's read-modify-publish
    # holds it across _publish.
    lock: threading.RLock = field(default_factory=threading.RLock)
    saved_at: float = 0.0
    flush_scheduled: bool = False
    task: asyncio.Task | None = None
    started: bool = False  # holds an engine slot; before that a cancel stops it at once


class JobRunner:
    def __init__(self, store: JobStore, settings: Settings, make_side_by_side: SideBySide | None = None, *,
                 persist_every_s: float = 0.25, watch_tick_s: float = 1.0, watch_min_gap_s: float = 0.1,
                 retention_every_s: float = 3600.0) -> None:
        self.store = store
        self.settings = settings
        self._make_side_by_side = make_side_by_side or side_by_side
        self._persist_every_s = persist_every_s
        self._watch_tick_s = watch_tick_s
        self._watch_min_gap_s = watch_min_gap_s
        self._retention_every_s = retention_every_s
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        self._watchers: dict[str, set[Callable[[], None]]] = {}
        self._closing = False
        self._loop = asyncio.new_event_loop()
        self._fal_slots = asyncio.Semaphore(settings.fal_concurrency)
        self._local_slots = asyncio.Semaphore(settings.local_concurrency)
        # Many fal jobs can finish at once; their renders are CPU work and wait their turn here.
        self._render_slots = asyncio.Semaphore(settings.render_concurrency)
        self._thread = threading.Thread(target=self._loop.run_forever, name="job-runner", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._retention_forever(), self._loop)

    # ----- what handlers call -------------------------------------------------------------------

    def submit(self, owner: str, request: EditRequest, engine: Engine,
               key_source: KeySource | None = None) -> Job:
        """Copy the inputs into the job's folder, record the job (queued), start it; returns at once."""
        job_id = uuid.uuid4().hex
        job_dir = self.store.job_dir(job_id)
        try:
            copied = copy_inputs(request, job_dir / "inputs")
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        job = self.store.create(owner, copied, engine.name, key_source, job_id=job_id,
                                message="Waiting for a free engine slot")
        self._start(job, engine, copied)
        return job

    def snapshot(self, job_id: str, owner: str) -> Job | None:
        """The newest state of ``owner``'s job: live if this process runs it, else as stored."""
        with self._lock:
            live = self._live.get(job_id)
        if live is not None:
            return live.job if live.job.owner == owner else None
        return self.store.get_for_owner(job_id, owner)

    def history(self, owner: str, limit: int = 50) -> list[Job]:
        """``owner``'s jobs newest first, running ones with their live progress."""
        jobs = self.store.list_for_owner(owner, limit)
        with self._lock:
            live = {job_id: entry.job for job_id, entry in self._live.items()}
        return [live.get(job.id, job) for job in jobs]

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
                if job.is_finished or (job.status == "waiting_for_key" and not self._is_live(job_id)):
                    return
                yielded = time.monotonic()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=self._watch_tick_s)
                # A chatty engine sends hundreds of events a second; a tab needs ten at most.
                await asyncio.sleep(max(0.0, self._watch_min_gap_s - (time.monotonic() - yielded)))
        finally:
            with self._lock:
                self._watchers[job_id].discard(wake)
                if not self._watchers[job_id]:
                    del self._watchers[job_id]

    def cancel(self, job_id: str, owner: str) -> bool:
        """Ask ``owner``'s job to stop; False when there is nothing of theirs left to cancel."""
        with self._lock:
            live = self._live.get(job_id)
        if live is not None:
            if live.job.owner != owner or live.job.is_finished:
                return False
            live.cancel.cancel()
            self._publish(live, urgent=True, message="Cancelling…")
            self._loop.call_soon_threadsafe(self._cancel_if_waiting, live)
            return True
        job = self.store.get_for_owner(job_id, owner)
        if job is None or job.status != "waiting_for_key":
            return False
        self.store.update(job_id, status="cancelled",
                          message="Cancelled here while it waited for a key; fal may still finish it.")
        self._notify(job_id)
        return True

    def recover(self, fal_engine_for_server_key: Engine | None) -> list[Job]:
        """Decide about every job a previous process left queued or running. Returns them as now recorded.

        A fal job with a request id is paid for and may be done already: with the server's key it
        resumes; with a user's key (never stored) it waits for the user to enter the key again.
        Anything that never reached fal is failed with the reassurance that nothing was charged.
        """
        touched = []
        for job in self.store.unfinished():
            if job.status == "waiting_for_key" or self._is_live(job.id):
                continue
            if job.engine == "fal" and job.request_id:
                if job.key_source == "server" and fal_engine_for_server_key is not None:
                    touched.append(self._resume(job, fal_engine_for_server_key, "server"))
                    continue
                who = ("this server's fal key is no longer set" if job.key_source == "server"
                       else "your fal key is never stored, so the restart forgot it")
                touched.append(self.store.update(
                    job.id, status="waiting_for_key",
                    message=f"The app restarted while fal ran request {job.request_id}, and {who}. "
                            "Enter your fal key to pick up the result; fal keeps it for a while."))
            else:
                error = INTERRUPTED_LOCAL if job.engine == "local" else INTERRUPTED_BEFORE_SUBMIT
                touched.append(self.store.update(job.id, status="failed", error=error, message=error))
        asyncio.run_coroutine_threadsafe(self._retention_once(), self._loop)
        return touched

    def resume_waiting(self, owner: str, engine: Engine, key_source: KeySource = "user") -> list[Job]:
        """Pick up ``owner``'s jobs that waited for a key, with the engine built from that key."""
        return [self._resume(job, engine, key_source) for job in self.store.waiting_for_key(owner)
                if not self._is_live(job.id)]

    def resume_by_request_id(self, owner: str, request_id: str, engine: Engine,
                             key_source: KeySource = "user") -> Job:
        """Reattach to a fal request by its id: a job of ``owner``'s still going is returned as it
        is, a stored result as it is; otherwise the request is fetched again into a job record
        (a new one, with the original inputs when this studio still has them)."""
        request_id = check_request_id(request_id)  # garbage is refused at once, never polled
        existing = self.store.find_by_request_id(owner, request_id)
        if existing is not None:
            live_job = self.snapshot(existing.id, owner)
            if self._is_live(existing.id) or (existing.status == "succeeded" and not existing.expired):
                assert live_job is not None
                return live_job
            if not existing.is_finished:
                return self._resume(existing, engine, key_source)
        job_id = uuid.uuid4().hex
        request = _stub_request(request_id)
        if existing is not None and not existing.is_stub and not existing.expired:
            try:
                request = copy_inputs(existing.edit_request(), self.store.job_dir(job_id) / "inputs")
            except InputError:
                log.info("inputs of job %s are gone; reattaching %s without them", existing.id, request_id)
        job = self.store.create(owner, request, engine.name, key_source, job_id=job_id,
                                request_id=request_id, message=f"Reattaching to fal request {request_id}")
        self._start(job, engine, request, resume_id=request_id)
        return job

    def run_retention(self) -> list[Job]:
        """One retention pass now (``recover`` runs one at start, the loop every ``retention_every_s``)."""
        return apply_retention(self.store, self.settings)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop as a process exit would: running jobs stay recorded as running, for
        ``recover`` in the next process."""
        self._closing = True

        async def stop() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(stop(), self._loop)
            self._thread.join(timeout)

    # ----- the runner thread -------------------------------------------------------------------

    def _start(self, job: Job, engine: Engine, request: EditRequest, resume_id: str | None = None) -> None:
        live = _Live(job=job, saved=job, saved_at=time.time())
        with self._lock:
            self._live[job.id] = live
        future = asyncio.run_coroutine_threadsafe(self._drive(live, engine, request, resume_id), self._loop)
        future.add_done_callback(_log_if_crashed)
        self._notify(job.id)

    def _resume(self, job: Job, engine: Engine, key_source: KeySource) -> Job:
        if not hasattr(engine, "resume"):
            raise TypeError(f"engine {engine.name!r} cannot resume a request by id")
        job = self.store.update(job.id, status="queued", key_source=key_source, error=None,
                                finished_at=None, message=f"Resuming fal request {job.request_id}")
        self._start(job, engine, job.edit_request(), resume_id=job.request_id)
        return job

    async def _drive(self, live: _Live, engine: Engine, request: EditRequest, resume_id: str | None) -> None:
        live.task = asyncio.current_task()
        job_id = live.job.id
        workdir = self.store.job_dir(job_id)
        workdir.mkdir(parents=True, exist_ok=True)
        slots = self._local_slots if engine.name == "local" else self._fal_slots

        def on_event(event: ProgressEvent) -> None:
            self._on_event(live, event)

        try:
            live.cancel.raise_if_cancelled()
            async with slots:
                live.started = True
                live.cancel.raise_if_cancelled()
                self._publish(live, urgent=True, status="running", started_at=time.time(),
                              message="Resuming" if resume_id else "Starting")
                if resume_id:
                    result = await engine.resume(resume_id, workdir, on_event, live.cancel)  # type: ignore[attr-defined]
                else:
                    result = await engine.edit(request, workdir, on_event, live.cancel)
            # The edit exists (and on fal is paid for): a cancel from here on no longer applies.
            await self._finish(live, request, result, workdir)
        except JobCancelled:
            self._publish(live, urgent=True, status="cancelled", finished_at=time.time(),
                          message="Cancelled.")
        except asyncio.CancelledError:
            if self._closing:
                raise
            self._publish(live, urgent=True, status="cancelled", finished_at=time.time(),
                          message="Cancelled before it started.")
        except StudioError as error:
            request_id = getattr(error, "request_id", None) if isinstance(error, EngineError) else None
            self._publish(live, urgent=True, status="failed", finished_at=time.time(), error=str(error),
                          message=str(error), request_id=request_id or live.job.request_id)
        except Exception:
            log.exception("job %s (engine %s) failed unexpectedly", job_id, engine.name)
            text = INTERNAL_FAILURE.format(id=job_id)
            self._publish(live, urgent=True, status="failed", finished_at=time.time(), error=text,
                          message=text)
        finally:
            with self._lock:
                self._live.pop(job_id, None)
            self._notify(job_id)

    async def _finish(self, live: _Live, request: EditRequest, result: EditResult, workdir: Path) -> None:
        notes = list(result.notes)
        timings = dict(result.timings)
        side_path: Path | None = None
        if live.job.is_stub or not request.video.is_file():
            notes.append("No side-by-side view: the original clip of this request is not on this server.")
        else:
            # Result first: watchers get the edited clip now, so the player shows it while the
            # side-by-side mp4 (a download, not what the player needs) renders after it.
            self._publish(live, urgent=True, phase="rendering", output_video=result.video,
                          remote_url=result.remote_url, request_id=result.request_id or live.job.request_id,
                          arguments=result.arguments,
                          message="The edit is ready; rendering the side-by-side mp4 for download")
            began = time.monotonic()
            out = workdir / "side_by_side.mp4"

            def on_progress(fraction: float) -> None:
                self._publish(live, urgent=False, message=f"The edit is ready; rendering the side-by-side "
                                                          f"mp4, {fraction:.0%}")

            try:
                async with self._render_slots:
                    await asyncio.to_thread(self._make_side_by_side, request.video, result.video, out,
                                            on_progress=on_progress)
                side_path = out
            except StudioError as error:
                notes.append(f"The side-by-side view could not be made: {error}")
            except Exception:
                log.exception("side-by-side of job %s failed", live.job.id)
                notes.append("The side-by-side view could not be made; the edited clip is complete.")
            timings["side_by_side"] = round(time.monotonic() - began, 3)
        now = time.time()
        self._publish(live, urgent=True, status="succeeded", phase="done", fraction=1.0, finished_at=now,
                      message=f"Done in {live.job.elapsed(now):.0f} s", output_video=result.video,
                      side_by_side=side_path, remote_url=result.remote_url,
                      request_id=result.request_id or live.job.request_id,
                      arguments=result.arguments, timings=timings, notes=tuple(notes))

    def _on_event(self, live: _Live, event: ProgressEvent) -> None:
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
            self._publish(live, urgent=urgent, **changes)

    def _publish(self, live: _Live, *, urgent: bool, **changes: object) -> None:
        """New snapshot for watchers now; the store now if urgent, else at most every persist_every_s."""
        now = time.time()
        with live.lock:
            if live.job.is_finished:  # final is final: a late cancel or engine event changes nothing
                return
            live.job = replace(live.job, updated_at=now, **changes)
            wait = self._persist_every_s - (now - live.saved_at)
            if urgent or wait <= 0:
                self._persist_locked(live)
            elif not live.flush_scheduled:
                live.flush_scheduled = True
                self._loop.call_soon_threadsafe(self._loop.call_later, wait, self._flush, live)
        self._notify(live.job.id)

    def _flush(self, live: _Live) -> None:
        with live.lock:
            live.flush_scheduled = False
            self._persist_locked(live)

    def _persist_locked(self, live: _Live) -> None:
        changed = {name: getattr(live.job, name) for name in _RUNNER_FIELDS
                   if getattr(live.job, name) != getattr(live.saved, name)}
        if changed:
            self.store.update(live.job.id, **changed)
        live.saved = live.job
        live.saved_at = time.time()

    def _cancel_if_waiting(self, live: _Live) -> None:
        # Runs on the runner loop, like _drive, so ``started`` cannot change underneath: a job still
        # waiting for a slot is stopped now instead of when a slot frees up.
        if not live.started and live.task is not None:
            live.task.cancel()

    def _notify(self, job_id: str) -> None:
        with self._lock:
            wakes = list(self._watchers.get(job_id, ()))
        for wake in wakes:
            wake()

    def _is_live(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._live

    async def _retention_once(self) -> None:
        try:
            await asyncio.to_thread(self.run_retention)
        except Exception:
            log.exception("retention pass failed")

    async def _retention_forever(self) -> None:
        while True:
            await asyncio.sleep(self._retention_every_s)
            await self._retention_once()


def _log_if_crashed(future: Future) -> None:
    # _drive turns every engine failure into a job state; what reaches here is the bookkeeping
    # itself failing (the disk full, the database gone), which must not pass silently.
    if not future.cancelled() and future.exception() is not None:
        log.error("job runner task crashed", exc_info=future.exception())


def copy_inputs(request: EditRequest, folder: Path) -> EditRequest:
    """The request with every input file copied into ``folder``, so history and recovery can use
    them after gradio's temp cache is cleaned. A file used twice is copied once."""
    folder.mkdir(parents=True, exist_ok=True)
    copies: dict[Path, Path] = {}
    for source in request.files():
        if source in copies:
            continue
        # One numbered folder per file keeps the user's file name, which error messages quote.
        target = folder / f"{len(copies):02d}" / source.name
        target.parent.mkdir()
        try:
            _link_or_copy(source, target)
        except FileNotFoundError:
            raise InputError(f"The file {source.name} is no longer on the server.",
                             fix="Add it again and resubmit.") from None
        copies[source] = target
    return replace(
        request,
        video=copies[request.video],
        images=tuple(copies[p] for p in request.images),
        elements=tuple(Element(frontal=copies[e.frontal] if e.frontal else None,
                               references=tuple(copies[r] for r in e.references))
                       for e in request.elements),
    )


def _link_or_copy(source: Path, target: Path) -> None:
    # A hard link costs nothing for a 200 MB clip and survives gradio deleting its copy; across
    # file systems it is impossible, so the bytes are copied.
    try:
        os.link(source, target)
    except OSError as error:
        if isinstance(error, FileNotFoundError):
            raise
        shutil.copy2(source, target)


def _stub_request(request_id: str) -> EditRequest:
    """What a job reattached by id records: this studio never saw its prompt or inputs."""
    return EditRequest(prompt="", video=Path(""), extra={"stub": True, "reattached_request_id": request_id})
