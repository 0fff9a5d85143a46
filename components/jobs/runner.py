"""Runs edits on the server's own event loop, so no browser request owns a paid job.

The edit service calls ``submit`` and pages follow the job; closing the tab only ends the
following. This module is the public API (submit, query, cancel, retry, choose, resume, recover);
``drive`` runs each job on the loop (stage inputs -> record -> wait for a slot -> engine -> result
first -> side-by-side -> final state); each other step lives in its own module:

- ``loop``: the event loop in a daemon thread that owns every job;
- ``live``: the newest snapshot in memory, watchers, throttled writes to the store;
- ``slots``: engine slots per ``Engine.concurrency_key``, a wait that a cancel ends;
- ``render``: the side-by-side render after an edit;
- ``inputs``: copying a job's files into its folder;
- ``recovery``: what a restart does with jobs a previous process left unfinished;
- ``family``: a parent job's state derived from its children; ``outcome``: what a finished family
  produces (the joined clip of a long clip's segments, the chosen take);
- ``prepare``: a long clip's first phases (its shot changes, the plan, the cut segments), run here
  after the request was admitted, never in the request that asked for it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

from components.config import Settings
from components.edit.request import EditRequest
from components.edit.request_id import check_request_id
from components.engines.base import CancelToken, Engine
from components.errors import InputError
from components.jobs import family, outcome, prepare, recovery
from components.jobs.drive import JobDriver, waiting_message
from components.jobs.inputs import copy_inputs, staging_cost, stub_request
from components.jobs.live import LiveJobs
from components.jobs.loop import RunnerLoop
from components.jobs.models import Job, JobKind, KeySource
from components.jobs.render import SideBySide, SideBySideRenderer
from components.jobs.retention import apply_retention
from components.jobs.slots import EngineSlots
from components.jobs.store import JobStore
from components.units import human_count

log = logging.getLogger(__name__)
T = TypeVar("T")



READY = "The edit is ready"  # the progress panel says how long it took, beside it


class JobRunner:
    def __init__(self, store: JobStore, settings: Settings, make_side_by_side: SideBySide | None = None, *,
                 persist_every_s: float = 0.25, watch_tick_s: float = 1.0, watch_min_gap_s: float = 0.1,
                 retention_every_s: float = 3600.0) -> None:
        self._store = store
        self.settings = settings
        self._loop = RunnerLoop()
        self._live = LiveJobs(store, self._loop.call_later, persist_every_s=persist_every_s,
                              watch_tick_s=watch_tick_s, watch_min_gap_s=watch_min_gap_s)
        self._slots = EngineSlots.from_settings(settings)
        self._renderer = SideBySideRenderer(settings.render_concurrency, make_side_by_side)
        self._loop.every(retention_every_s, self._retention_once)
        self._driver = JobDriver(store, settings, self._loop, self._live, self._slots, self._renderer,
                                 cancel=self.cancel)

    @property
    def admit_plan(self) -> prepare.AdmitPlan:
        """Admits a long clip's real plan (its cost beside the estimate admitted at submit); the
        edit service sets it, since the budget and the address limits are its business."""
        return self._driver.admit_plan

    @admit_plan.setter
    def admit_plan(self, admit: prepare.AdmitPlan) -> None:
        self._driver.admit_plan = admit

    # ----- what handlers call -------------------------------------------------------------------

    def submit(self, owner: str, request: EditRequest, engine: Engine,
               key_source: KeySource | None = None) -> Job:
        """Copy the inputs into the job's folder, record the job (queued), start it; returns at once."""
        job_id = uuid.uuid4().hex
        job_dir = self._store.job_dir(job_id)
        try:
            copied = copy_inputs(request, job_dir / "inputs")
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        job = self._store.create(owner, copied, engine.name, key_source, job_id=job_id,
                                message=waiting_message(engine, self.settings))
        self._driver.start(job, engine, copied)
        return job

    def submit_parent(self, owner: str, kind: JobKind, request: EditRequest, parts: Sequence[EditRequest],
                      engine: Engine, key_source: KeySource | None = None) -> Job:
        """Record a parent of ``kind`` "takes" and its child edits, one per part, all before any
        runs, then start them; returns the parent at once."""
        parent_id = uuid.uuid4().hex
        try:
            staged = copy_inputs(replace(request, extra={**request.extra, "parts": len(parts)}),
                                 self._store.job_dir(parent_id) / "inputs")
            parent = self._store.create(owner, staged, engine.name, key_source, job_id=parent_id, kind=kind,
                                       message=f"Starting {len(parts)} {family.PART_NOUN[kind]}s")
        except BaseException:
            self._driver.discard([parent_id])
            raise
        self._driver.start_parent(parent, engine, self._driver.create_children(parent, parts, engine))
        return parent

    def submit_segments(self, owner: str, request: EditRequest, overlap: float, engine: Engine,
                        key_source: KeySource | None = None, parent_id: str | None = None) -> Job:
        """Record a long clip's parent and return at once: finding its shot changes, planning its
        segments (admitted by ``admit_plan``) and cutting them are phases of the job, run here with
        progress and Cancel, so the request that asked does no heavy work."""
        parent_id = parent_id or uuid.uuid4().hex
        try:
            staged = copy_inputs(replace(request, extra={**request.extra, "overlap": overlap}),
                                 self._store.job_dir(parent_id) / "inputs")
            parent = self._store.create(owner, staged, engine.name, key_source, job_id=parent_id,
                                       kind="segments", message=prepare.WAITING)
        except BaseException:
            self._driver.discard([parent_id])
            raise
        self._driver.start_parent(parent, engine)
        return parent

    def children(self, parent_id: str, owner: str) -> list[Job]:
        """A parent's current parts (each part's newest attempt) in order, with live progress."""
        parent = self.snapshot(parent_id, owner)
        if parent is None or not parent.is_parent:
            return []
        live = self._live.current()
        parts = family.latest_parts(live.get(j.id, j) for j in self._store.children(parent_id))
        return [parts[i] for i in sorted(parts)]

    def parts_to_retry(self, parent_id: str, owner: str) -> tuple[Job, dict[int, EditRequest]]:
        """The finished parent and, by part index, the request to run again for each part that
        failed, was cancelled or never started (the parts that succeeded are kept, and not paid for
        again). Computed once, here: the service prices exactly these and ``retry_parts`` runs them."""
        parent = self.snapshot(parent_id, owner)
        if parent is None or not parent.is_parent or not parent.is_finished or self._live.is_live(parent_id):
            raise InputError("Only a finished segmented edit or set of takes can be retried.",
                             fix="Pick one from the history list once it has ended.")
        parts = family.latest_parts(self._store.children(parent_id))
        todo = family.retryable(parts, family.part_count(parent))
        if not todo:
            raise InputError("Every part of this edit succeeded, so there is nothing to retry.")
        again = {}
        for index in todo:
            source = parts.get(index)
            if source is None or source.expired:
                raise InputError(f"The inputs of {family.PART_NOUN[parent.kind]} {index + 1} are gone.",
                                 fix="Start the edit again from the clip.")
            request = source.edit_request()
            extra = {k: v for k, v in request.extra.items() if k not in ("billed_usd", "part_of", "part")}
            again[index] = replace(request, extra=extra)
        return parent, again

    def retry_parts(self, parent: Job, again: Mapping[int, EditRequest], engine: Engine,
                    key_source: KeySource | None = None) -> Job:
        """Run ``again`` (from ``parts_to_retry``, each part's cost on the server's key in its
        ``billed_usd``) as new attempts of ``parent``'s parts."""
        if self._live.is_live(parent.id):
            raise InputError("This edit is already being retried.", fix="Follow it in the history list.")
        indices = sorted(again)
        starts = self._driver.create_children(parent, [again[i] for i in indices], engine, indices=indices,
                                       key_source=key_source)
        parent = self._store.update(parent.id, status="queued", error=None, finished_at=None,
                                    key_source=key_source,
                                    message=f"Retrying {human_count(len(indices), 'part')}")
        self._driver.start_parent(parent, engine, starts)
        return parent

    def choose_take(self, parent_id: str, owner: str, part: int) -> Job:
        """Make take ``part`` (from 0) the parent's result: its player, downloads and share link."""
        parent = self.snapshot(parent_id, owner)
        if parent is None or parent.kind != "takes" or not parent.is_finished:
            raise InputError("Takes can be chosen once the takes have finished.",
                             fix="Wait for the takes to finish, then pick one.")
        take = family.latest_parts(self._store.children(parent_id)).get(part)
        if take is None or take.status != "succeeded" or take.expired or take.output_video is None:
            raise InputError(f"Take {part + 1} has no result to choose.", fix="Pick a take that finished.")
        chosen = outcome.chosen_take(take, self._store.job_dir(parent_id))
        takes = family.latest_parts(self._store.children(parent_id))
        done = sum(t.status == "succeeded" for t in takes.values())
        notes = tuple(outcome.takes_note(done, family.part_count(parent), part) if n.endswith(" is chosen.")
                      else n for n in parent.notes)
        job = self._store.update(parent_id, chosen=part, output_video=chosen.video,
                                side_by_side=chosen.side_by_side, request_id=take.request_id,
                                arguments=take.arguments, remote_url=take.remote_url, notes=notes)
        self._live.notify(parent_id)
        return job

    def staging_cost(self, request: EditRequest) -> tuple[int, int]:
        """Bytes and files that staging ``request`` as a job would write (``inputs.staging_cost``)."""
        return staging_cost(request, self._store.jobs_root)

    def owner_of(self, job_id: str) -> str | None:
        """Whose job ``job_id`` is (None: no such job): what a signed link to its files is checked
        against."""
        job = self._store.get(job_id)
        return job.owner if job is not None else None

    def find_by_request_id(self, owner: str, request_id: str) -> Job | None:
        """``owner``'s job made by fal request ``request_id``, if any."""
        return self._store.find_by_request_id(owner, request_id)

    def snapshot(self, job_id: str, owner: str) -> Job | None:
        """The newest state of ``owner``'s job: live if this process runs it, else as stored."""
        return self._live.snapshot(job_id, owner)

    def history(self, owner: str, limit: int = 50) -> list[Job]:
        """``owner``'s jobs newest first, running ones with their live progress."""
        jobs = self._store.list_for_owner(owner, limit)
        live = self._live.current()
        return [live.get(job.id, job) for job in jobs]

    async def newer(self, job_id: str, owner: str, seen: float | None, timeout: float,
                    gap: float) -> Job | None:
        """The job once newer than ``seen`` (its ``updated_at`` as a page shows it), waiting up to
        ``timeout`` for a change, and no sooner than ``gap`` after ``seen`` unless it ended; None
        when nothing changed. What a page's follow tick calls."""
        return await self._live.newer(job_id, owner, seen, timeout, gap)

    def watch(self, job_id: str, owner: str) -> AsyncIterator[Job]:
        """Snapshots of a job on every change and at least every ``watch_tick_s``, from any loop;
        ends after a final state, or at once for a job parked waiting for a key."""
        return self._live.watch(job_id, owner)

    async def run_local(self, owner: str, work: Callable[[CancelToken], T]) -> T:
        """CPU work a page asks for outside any job (Fix it re-encodes a clip), run in a thread
        once ``owner``'s turn at a local slot comes: it shares the machine's CPU with local edits,
        round-robin across owners, instead of jumping the line. The caller going away (a closed
        tab) cancels it, waiting or running."""
        cancel = CancelToken()

        async def in_turn() -> T:
            async with self._slots.hold("local", cancel, owner=owner):
                return await asyncio.to_thread(work, cancel)

        try:
            return await asyncio.wrap_future(self._loop.run(in_turn()))
        except asyncio.CancelledError:
            cancel.cancel()
            raise

    def cancel(self, job_id: str, owner: str) -> bool:
        """Ask ``owner``'s job to stop; False when there is nothing of theirs left to cancel."""
        live = self._live.get(job_id)
        if live is not None:
            if live.job.owner != owner or live.job.is_finished:
                return False
            self._live.publish(live, urgent=True, message="Cancelling…")
            live.cancel.cancel()  # wakes a job waiting for a slot; a running engine polls it
            return True
        job = self._store.get_for_owner(job_id, owner)
        if job is None or job.status != "waiting_for_key":
            return False
        self._store.update(job_id, status="cancelled",
                          message="Cancelled here while it waited for a key; fal may still finish it.")
        self._live.notify(job_id)
        return True

    def recover(self, fal_engine_for_server_key: Engine | None,
                local_engine: Engine | None = None) -> list[Job]:
        """Decide about every job a previous process left queued or running (``recovery``'s policy),
        then let every unfinished parent follow its parts again. Returns them as now recorded."""
        touched = []
        unfinished = self._store.unfinished()
        for job in unfinished:
            if job.is_parent or job.status == "waiting_for_key" or self._live.is_live(job.id):
                continue
            decision = recovery.decide(job, fal_engine_for_server_key is not None)
            if isinstance(decision, recovery.Resume):
                assert fal_engine_for_server_key is not None
                touched.append(self._resume(job, fal_engine_for_server_key, "server"))
            elif isinstance(decision, recovery.Restart):
                engine = fal_engine_for_server_key if job.engine == "fal" else local_engine
                if engine is None:
                    text = recovery.INTERRUPTED_LOCAL
                    touched.append(self._store.update(job.id, status="failed", error=text, message=text))
                else:
                    touched.append(self._restart(job, engine))
            elif isinstance(decision, recovery.WaitForKey):
                touched.append(self._store.update(job.id, status="waiting_for_key", message=decision.message))
            else:
                touched.append(self._store.update(job.id, status="failed", error=decision.error,
                                                 message=decision.error))
        for job in unfinished:
            if job.is_parent and job.status != "waiting_for_key" and not self._live.is_live(job.id):
                engine = (local_engine if job.engine != "fal" else
                          fal_engine_for_server_key if job.key_source == "server" else None)
                if engine is None and prepare.needs_preparing(job, self._store.children(job.id)):
                    touched.append(self._store.update(job.id, status="waiting_for_key",
                                                     message=prepare.WAITING_FOR_KEY))
                    continue
                self._driver.start_parent(job, engine)
                touched.append(job)
        self._loop.run(self._retention_once())
        return touched

    def resume_waiting(self, owner: str, engine: Engine, key_source: KeySource = "user") -> list[Job]:
        """Pick up ``owner``'s jobs that waited for a key, with the engine built from that key: each
        edit resumes its fal request (or, a part that never reached fal, runs), then each waiting
        parent follows its parts again."""
        waiting = [j for j in self._store.waiting_for_key(owner) if not self._live.is_live(j.id)]
        resumed = [self._resume(j, engine, key_source) if j.request_id else self._restart(j, engine)
                   for j in waiting if not j.is_parent]
        for parent in (j for j in waiting if j.is_parent):
            self._driver.start_parent(self._store.update(parent.id, status="queued", key_source=key_source,
                                                 message="Picking up its parts"), engine)
            resumed.append(parent)
        return resumed

    def resume_by_request_id(self, owner: str, request_id: str, engine: Engine,
                             key_source: KeySource = "user") -> Job:
        """Reattach to a fal request by its id: a job of ``owner``'s still going is returned as it
        is, a stored result as it is; otherwise the request is fetched again into a job record
        (a new one, with the original inputs when this studio still has them)."""
        request_id = check_request_id(request_id)  # garbage is refused at once, never polled
        existing = self._store.find_by_request_id(owner, request_id)
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
                request = copy_inputs(existing.edit_request(), self._store.job_dir(job_id) / "inputs")
            except InputError:
                log.info("inputs of job %s are gone; reattaching %s without them", existing.id, request_id)
        job = self._store.create(owner, request, engine.name, key_source, job_id=job_id,
                                request_id=request_id, message=f"Reattaching to fal request {request_id}")
        self._driver.start(job, engine, request, resume_id=request_id)
        return job

    def run_retention(self) -> list[Job]:
        """One retention pass now (``recover`` runs one at start, the loop every ``retention_every_s``)."""
        return apply_retention(self._store, self.settings)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop as a process exit would: running jobs stay recorded as running, for
        ``recover`` in the next process."""
        self._loop.close(timeout)

    # ----- one job, on the runner loop ----------------------------------------------------------

    def _restart(self, job: Job, engine: Engine) -> Job:
        """Run a part again from its inputs: it never reached fal (or ran locally), so nothing was
        charged for the try a restart cut short."""
        job = self._store.update(job.id, status="queued", error=None, finished_at=None,
                                message="Starting again after a restart")
        self._driver.start(job, engine, job.edit_request())
        return job

    def _resume(self, job: Job, engine: Engine, key_source: KeySource) -> Job:
        if not engine.can_resume:
            raise TypeError(f"engine {engine.name!r} cannot resume a request by id")
        job = self._store.update(job.id, status="queued", key_source=key_source, error=None,
                                finished_at=None, message=f"Resuming fal request {job.request_id}")
        self._driver.start(job, engine, job.edit_request(), resume_id=job.request_id)
        return job

    async def _retention_once(self) -> None:
        try:
            await asyncio.to_thread(self.run_retention)
        except Exception:
            log.exception("retention pass failed")
