"""Runs edits on the server's own event loop, so no browser request owns a paid job.

A gradio handler calls ``submit`` and then ``watch``es; closing the tab only ends the watching.
This module is the orchestration of one job (stage inputs -> record -> wait for a slot -> engine
-> side-by-side -> final state) and the public API the UI calls; each step lives in its own module:

- ``loop``: the event loop in a daemon thread that owns every job;
- ``live``: the newest snapshot in memory, watchers, throttled writes to the store;
- ``slots``: engine slots per ``Engine.concurrency_key``, a wait that a cancel ends;
- ``render``: the side-by-side render after an edit;
- ``inputs``: copying a job's files into its folder;
- ``recovery``: what a restart does with jobs a previous process left unfinished.

A job is cancelled one way only: its ``CancelToken``. It stops a job waiting for a slot (the
wait wakes up) as well as a running engine (which polls it). Task cancellation means only that the
loop is closing, and leaves the job recorded as running for ``recover``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from components.config import Settings
from components.engines.base import EditResult, Engine, ProgressEvent
from components.errors import EngineError, InputError, JobCancelled, StudioError
from components.jobs import recovery
from components.jobs.inputs import copy_inputs, stub_request
from components.jobs.live import LiveJob, LiveJobs
from components.jobs.loop import RunnerLoop
from components.jobs.models import Job, KeySource
from components.jobs.render import SideBySide, SideBySideRenderer
from components.jobs.retention import apply_retention
from components.jobs.slots import EngineSlots
from components.jobs.store import JobStore
from components.media.thumbnail import make_thumbnail
from components.request import EditRequest
from components.request_id import check_request_id

log = logging.getLogger(__name__)

INTERNAL_FAILURE = ("The edit stopped because of an unexpected error inside the studio (job {id}). "
                    "Run it again; if it keeps failing, report the job id.")


class JobRunner:
    def __init__(self, store: JobStore, settings: Settings, make_side_by_side: SideBySide | None = None, *,
                 persist_every_s: float = 0.25, watch_tick_s: float = 1.0, watch_min_gap_s: float = 0.1,
                 retention_every_s: float = 3600.0) -> None:
        self.store = store
        self.settings = settings
        self._loop = RunnerLoop()
        self._live = LiveJobs(store, self._loop.call_later, persist_every_s=persist_every_s,
                              watch_tick_s=watch_tick_s, watch_min_gap_s=watch_min_gap_s)
        self._slots = EngineSlots.from_settings(settings)
        self._renderer = SideBySideRenderer(settings.render_concurrency, make_side_by_side)
        self._loop.every(retention_every_s, self._retention_once)

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
        return self._live.snapshot(job_id, owner)

    def history(self, owner: str, limit: int = 50) -> list[Job]:
        """``owner``'s jobs newest first, running ones with their live progress."""
        jobs = self.store.list_for_owner(owner, limit)
        live = self._live.current()
        return [live.get(job.id, job) for job in jobs]

    def watch(self, job_id: str, owner: str) -> AsyncIterator[Job]:
        """Snapshots of a job on every change and at least every ``watch_tick_s``, from any loop;
        ends after a final state, or at once for a job parked waiting for a key."""
        return self._live.watch(job_id, owner)

    def cancel(self, job_id: str, owner: str) -> bool:
        """Ask ``owner``'s job to stop; False when there is nothing of theirs left to cancel."""
        live = self._live.get(job_id)
        if live is not None:
            if live.job.owner != owner or live.job.is_finished:
                return False
            self._live.publish(live, urgent=True, message="Cancelling…")
            live.cancel.cancel()  # wakes a job waiting for a slot; a running engine polls it
            return True
        job = self.store.get_for_owner(job_id, owner)
        if job is None or job.status != "waiting_for_key":
            return False
        self.store.update(job_id, status="cancelled",
                          message="Cancelled here while it waited for a key; fal may still finish it.")
        self._live.notify(job_id)
        return True

    def recover(self, fal_engine_for_server_key: Engine | None) -> list[Job]:
        """Decide about every job a previous process left queued or running (``recovery``'s policy).
        Returns them as now recorded."""
        touched = []
        for job in self.store.unfinished():
            if job.status == "waiting_for_key" or self._live.is_live(job.id):
                continue
            decision = recovery.decide(job, fal_engine_for_server_key is not None)
            if isinstance(decision, recovery.Resume):
                assert fal_engine_for_server_key is not None
                touched.append(self._resume(job, fal_engine_for_server_key, "server"))
            elif isinstance(decision, recovery.WaitForKey):
                touched.append(self.store.update(job.id, status="waiting_for_key", message=decision.message))
            else:
                touched.append(self.store.update(job.id, status="failed", error=decision.error,
                                                 message=decision.error))
        self._loop.run(self._retention_once())
        return touched

    def resume_waiting(self, owner: str, engine: Engine, key_source: KeySource = "user") -> list[Job]:
        """Pick up ``owner``'s jobs that waited for a key, with the engine built from that key."""
        return [self._resume(job, engine, key_source) for job in self.store.waiting_for_key(owner)
                if not self._live.is_live(job.id)]

    def resume_by_request_id(self, owner: str, request_id: str, engine: Engine,
                             key_source: KeySource = "user") -> Job:
        """Reattach to a fal request by its id: a job of ``owner``'s still going is returned as it
        is, a stored result as it is; otherwise the request is fetched again into a job record
        (a new one, with the original inputs when this studio still has them)."""
        request_id = check_request_id(request_id)  # garbage is refused at once, never polled
        existing = self.store.find_by_request_id(owner, request_id)
        if existing is not None:
            live_job = self.snapshot(existing.id, owner)
            if self._live.is_live(existing.id) or (existing.status == "succeeded" and not existing.expired):
                assert live_job is not None
                return live_job
            if not existing.is_finished:
                return self._resume(existing, engine, key_source)
        job_id = uuid.uuid4().hex
        request = stub_request(request_id)
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
        self._loop.close(timeout)

    # ----- one job, on the runner loop ----------------------------------------------------------

    def _start(self, job: Job, engine: Engine, request: EditRequest, resume_id: str | None = None) -> None:
        live = self._live.add(job)
        self._loop.run(self._drive(live, engine, request, resume_id))

    def _resume(self, job: Job, engine: Engine, key_source: KeySource) -> Job:
        if not engine.can_resume:
            raise TypeError(f"engine {engine.name!r} cannot resume a request by id")
        job = self.store.update(job.id, status="queued", key_source=key_source, error=None,
                                finished_at=None, message=f"Resuming fal request {job.request_id}")
        self._start(job, engine, job.edit_request(), resume_id=job.request_id)
        return job

    async def _drive(self, live: LiveJob, engine: Engine, request: EditRequest,
                     resume_id: str | None) -> None:
        job_id = live.job.id
        workdir = self.store.job_dir(job_id)
        workdir.mkdir(parents=True, exist_ok=True)

        def on_event(event: ProgressEvent) -> None:
            self._live.on_event(live, event)

        try:
            if request.video.is_file():  # history's still of the input, made off the page's path
                await asyncio.to_thread(make_thumbnail, request.video)
            async with self._slots.hold(engine.concurrency_key, live.cancel):
                live.started = True
                self._live.publish(live, urgent=True, status="running", started_at=time.time(),
                                   message="Resuming" if resume_id else "Starting")
                if resume_id:
                    result = await engine.resume(resume_id, workdir, on_event, live.cancel)
                else:
                    result = await engine.edit(request, workdir, on_event, live.cancel)
            # The edit exists (and on fal is paid for): a cancel from here on no longer applies.
            await self._finish(live, request, result, workdir)
        except JobCancelled:
            self._live.publish(live, urgent=True, status="cancelled", finished_at=time.time(),
                               message="Cancelled." if live.started else "Cancelled before it started.")
        except StudioError as error:
            request_id = getattr(error, "request_id", None) if isinstance(error, EngineError) else None
            self._live.publish(live, urgent=True, status="failed", finished_at=time.time(), error=str(error),
                               message=str(error), request_id=request_id or live.job.request_id)
        except Exception:
            log.exception("job %s (engine %s) failed unexpectedly", job_id, engine.name)
            text = INTERNAL_FAILURE.format(id=job_id)
            self._live.publish(live, urgent=True, status="failed", finished_at=time.time(), error=text,
                               message=text)
        finally:
            # On asyncio.CancelledError (the loop closing) the job stays recorded as it was.
            self._live.remove(job_id)

    async def _finish(self, live: LiveJob, request: EditRequest, result: EditResult, workdir: Path) -> None:
        def report(message: str, urgent: bool) -> None:
            self._live.publish(live, urgent=urgent, phase="rendering", message=message)

        # Result first: watchers get the edited clip now, so the player shows it while the
        # side-by-side mp4 (a download, not what the player needs) renders after it.
        self._live.publish(live, urgent=True, phase="rendering", output_video=result.video,
                           remote_url=result.remote_url, request_id=result.request_id or live.job.request_id,
                           arguments=result.arguments,
                           message="The edit is ready; rendering the side-by-side mp4 for download")
        await asyncio.to_thread(make_thumbnail, result.video)
        original = None if live.job.is_stub else request.video
        rendered = await self._renderer.render(live.job.id, original, result.video, workdir, report)
        notes = list(result.notes) + ([rendered.note] if rendered.note else [])
        timings = dict(result.timings)
        if rendered.seconds is not None:
            timings["side_by_side"] = rendered.seconds
        now = time.time()
        self._live.publish(live, urgent=True, status="succeeded", phase="done", fraction=1.0, finished_at=now,
                           message=f"Done in {live.job.elapsed(now):.0f} s", output_video=result.video,
                           side_by_side=rendered.path, remote_url=result.remote_url,
                           request_id=result.request_id or live.job.request_id,
                           arguments=result.arguments, timings=timings, notes=tuple(notes))

    async def _retention_once(self) -> None:
        try:
            await asyncio.to_thread(self.run_retention)
        except Exception:
            log.exception("retention pass failed")
