"""Runs edits on the server's own event loop, so no browser request owns a paid job.

A gradio handler calls ``submit`` and then ``watch``es; closing the tab only ends the watching.
This module is the orchestration of one job (stage inputs -> record -> wait for a slot -> engine
-> side-by-side -> final state) and the public API the UI calls; each step lives in its own module:

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

A job is cancelled one way only: its ``CancelToken``. It stops a job waiting for a slot (the
wait wakes up) as well as a running engine (which polls it). Task cancellation means only that the
loop is closing, and leaves the job recorded as running for ``recover``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from components.config import Settings
from components.engines.base import CancelToken, EditResult, Engine, ProgressEvent
from components.errors import EngineError, InputError, JobCancelled, StudioError
from components.jobs import family, outcome, prepare, recovery
from components.jobs.inputs import copy_inputs, stub_request
from components.jobs.live import LiveJob, LiveJobs
from components.jobs.loop import RunnerLoop
from components.jobs.models import Job, JobKind, KeySource
from components.jobs.render import Rendered, SideBySide, SideBySideRenderer
from components.jobs.retention import apply_retention
from components.jobs.slots import EngineSlots
from components.jobs.store import JobStore
from components.media.limits import human_count
from components.media.thumbnail import make_thumbnail
from components.request import EditRequest
from components.request_id import check_request_id
from components.segments.plan import SegmentPlan

log = logging.getLogger(__name__)
T = TypeVar("T")

INTERNAL_FAILURE = ("The edit stopped because of an unexpected error inside the studio (job {id}). "
                    "Run it again; if it keeps failing, report the job id.")


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
        # Admits a long clip's real plan (its cost beside the estimate that was admitted at submit);
        # the edit service sets it, since the budget and the address limits are its business.
        self.admit_plan: prepare.AdmitPlan = prepare.admit_nothing

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
                                message=self._waiting(engine))
        self._start(job, engine, copied)
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
            self._discard([parent_id])
            raise
        self._start_parent(parent, engine, self._create_children(parent, parts, engine))
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
            self._discard([parent_id])
            raise
        self._start_parent(parent, engine)
        return parent

    def _waiting(self, engine: Engine) -> str:
        """What a job says while it waits for one of its engine's slots."""
        if engine.name == "fal":
            return "Waiting for its turn to be sent to fal"
        at_once = self.settings.local_concurrency
        runs = "one edit" if at_once == 1 else f"{at_once} edits"
        return f"Waiting for its turn: the local preview runs {runs} at a time on this machine"

    def _create_children(self, parent: Job, parts: Sequence[EditRequest], engine: Engine,
                         indices: Sequence[int] | None = None,
                         key_source: KeySource | None = None) -> list[tuple[Job, EditRequest]]:
        """Record one child edit per part (at ``indices``, else 0..n-1), or none if any fails."""
        made: list[str] = []
        children = []
        try:
            for index, part in zip(indices or range(len(parts)), parts, strict=True):
                child_id = uuid.uuid4().hex
                made.append(child_id)
                # A part knows what it is part of: a segment gets no side-by-side of its own
                # (``_finish``), and the local preview turns each take's colours differently.
                tagged = replace(part, extra={**part.extra, "part_of": parent.kind, "part": index})
                copied = copy_inputs(tagged, self._store.job_dir(child_id) / "inputs")
                children.append((self._store.create(parent.owner, copied, engine.name,
                                                   key_source or parent.key_source,
                                                   job_id=child_id, parent_id=parent.id, part=index,
                                                   message=self._waiting(engine)), copied))
        except BaseException:
            self._discard(made)
            if indices is None:  # a new family: nothing of it has run, so none of it is left behind
                self._discard([parent.id])
            raise
        return children

    def _discard(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            shutil.rmtree(self._store.job_dir(job_id), ignore_errors=True)
            self._store.delete(job_id)

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
        starts = self._create_children(parent, [again[i] for i in indices], engine, indices=indices,
                                       key_source=key_source)
        parent = self._store.update(parent.id, status="queued", error=None, finished_at=None,
                                    key_source=key_source,
                                    message=f"Retrying {human_count(len(indices), 'part')}")
        self._start_parent(parent, engine, starts)
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

    async def newer(self, job_id: str, owner: str, seen: float | None, timeout: float) -> Job | None:
        """The job once newer than ``seen`` (its ``updated_at`` as a page shows it), waiting up to
        ``timeout`` for a change; None when nothing changed. What a page's follow tick calls."""
        return await self._live.newer(job_id, owner, seen, timeout)

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
                self._start_parent(job, engine)
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
            self._start_parent(self._store.update(parent.id, status="queued", key_source=key_source,
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
        self._start(job, engine, request, resume_id=request_id)
        return job

    def run_retention(self) -> list[Job]:
        """One retention pass now (``recover`` runs one at start, the loop every ``retention_every_s``)."""
        return apply_retention(self._store, self.settings)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop as a process exit would: running jobs stay recorded as running, for
        ``recover`` in the next process."""
        self._loop.close(timeout)

    # ----- one job, on the runner loop ----------------------------------------------------------

    def _start(self, job: Job, engine: Engine, request: EditRequest, resume_id: str | None = None) -> None:
        live = self._live.add(job)
        self._loop.run(self._drive(live, engine, request, resume_id))

    def _restart(self, job: Job, engine: Engine) -> Job:
        """Run a part again from its inputs: it never reached fal (or ran locally), so nothing was
        charged for the try a restart cut short."""
        job = self._store.update(job.id, status="queued", error=None, finished_at=None,
                                message="Starting again after a restart")
        self._start(job, engine, job.edit_request())
        return job

    def _start_parent(self, parent: Job, engine: Engine | None = None,
                      children: Sequence[tuple[Job, EditRequest]] = ()) -> None:
        """Follow ``parent``'s parts, starting ``children`` first; a long clip not yet cut into
        its segments is prepared first, with ``engine`` running the segments it becomes."""
        live = self._live.add(parent)
        live.cancel.on_cancel(lambda: self._cancel_parts(parent))
        for child, copied in children:
            self._start(child, engine, copied)  # type: ignore[arg-type]  # children come with one
        self._loop.run(self._drive_parent(live, engine))

    def _cancel_parts(self, parent: Job) -> None:
        for child in self._store.children(parent.id):
            self.cancel(child.id, parent.owner)

    async def _drive_parent(self, live: LiveJob, engine: Engine | None) -> None:
        """Prepare the parts if they do not exist yet, follow them until none is in flight, then
        make what they add up to."""
        parent = live.job
        try:
            with self._ends_on_error(live, lambda: prepare.CANCELLED):
                await self._follow_parts(live, engine)
        finally:
            self._live.remove(parent.id)

    async def _follow_parts(self, live: LiveJob, engine: Engine | None) -> None:
        parent = live.job
        if prepare.needs_preparing(parent, self._store.children(parent.id)):
            if engine is None:
                raise EngineError(prepare.NO_ENGINE)
            await self._prepare_segments(live, engine)
        parent = live.job
        total = family.part_count(parent)
        parts = family.latest_parts(self._current(self._store.children(parent.id)))
        state = family.progress(parent.kind, parts, total)
        while state.status == "running":
            self._live.publish(live, urgent=live.job.status != "running", status="running",
                               started_at=live.job.started_at or time.time(), message=state.message,
                               fraction=state.fraction, phase="running")
            await self._live.changed([p.id for p in parts.values()], timeout=self._live.watch_tick_s)
            parts = family.latest_parts(self._current(self._store.children(parent.id)))
            state = family.progress(parent.kind, parts, total)
        if live.cancel.cancelled:
            self._live.publish(live, urgent=True, status="cancelled", finished_at=time.time(),
                               message="Cancelled; the parts that had finished are kept.")
        elif state.waiting_for_key:
            self._live.publish(live, urgent=True, status="waiting_for_key", message=state.message)
        else:
            await self._settle_parent(live, parts, total)

    async def _prepare_segments(self, live: LiveJob, engine: Engine) -> None:
        """A long clip's first phases, on a local (CPU) slot like any local work: its shot changes
        and plan, the plan admitted (``admit_plan``: its real cost, not the estimate submit
        admitted), then its segment files; then one child edit per segment, started."""
        parent = live.job
        request = parent.edit_request()
        overlap = float(request.extra.get("overlap") or 0.0)

        def report(message: str, fraction: float | None = None) -> None:
            self._live.publish(live, urgent=fraction is None, status="running", phase="preparing",
                               message=message, fraction=fraction,
                               started_at=live.job.started_at or time.time())

        folder = self._store.job_dir(parent.id)
        try:
            async with self._slots.hold("local", live.cancel, owner=parent.owner):
                report(prepare.FINDING)
                plan = await asyncio.to_thread(prepare.plan, request.video, overlap, self.settings,
                                               live.cancel, lambda f: report(prepare.FINDING, 0.3 * f))
                updated = await asyncio.to_thread(self._admit_and_record_plan, live, plan)
                report(prepare.cutting(plan.count), 0.3)
                parts = await asyncio.to_thread(
                    prepare.cut, updated, plan, folder, self.settings, live.cancel,
                    lambda f: report(prepare.cutting(plan.count), 0.3 + 0.7 * f))
            children = self._create_children(updated, parts, engine, indices=range(len(parts)))
        finally:
            prepare.drop_cut_files(folder)  # the children hold links to the files they use
        for child, copied in children:
            self._start(child, engine, copied)
        self._live.publish(live, urgent=True, message=f"Starting {plan.count} segments", fraction=0.0,
                           phase="running")

    def _admit_and_record_plan(self, live: LiveJob, plan: SegmentPlan) -> Job:
        """The plan admitted and written onto the parent, as one step under the admission's lock."""
        with self.admit_plan(live.job, plan):
            request = prepare.with_plan(live.job, plan, self.settings)
            self._live.publish(live, urgent=True, request=request)
        return live.job

    async def _settle_parent(self, live: LiveJob, parts: dict[int, Job], total: int) -> None:
        parent = live.job
        problems = family.failures(parent.kind, parts, total)
        workdir = self._store.job_dir(parent.id)

        def report(message: str, urgent: bool) -> None:
            self._live.publish(live, urgent=urgent, phase="rendering", message=message)

        if parent.kind == "segments":
            if problems:
                raise EngineError(" ".join(problems) + " Use “Retry failed parts” to run only those again; "
                                  "the others are kept and not paid for twice.")
            report(f"Joining {total} segments", True)
            made = await asyncio.to_thread(outcome.join_parts, parent, [parts[i] for i in range(total)],
                                           workdir)
            result = EditResult(video=made.video, engine=parent.engine, notes=made.notes,
                                timings={"join": made.seconds})
        else:
            done = [i for i in range(total) if i in parts and parts[i].status == "succeeded"]
            if not done:
                raise EngineError(" ".join(problems))
            pick = parent.chosen if parent.chosen in done else done[0]  # else the first that succeeded
            chosen = outcome.chosen_take(parts[pick], workdir)
            notes = [outcome.takes_note(len(done), total, pick), *problems]
            now = time.time()
            self._live.publish(live, urgent=True, status="succeeded", phase="done", fraction=1.0,
                               finished_at=now, chosen=pick, message=READY,
                               output_video=chosen.video, side_by_side=chosen.side_by_side,
                               request_id=parts[pick].request_id, arguments=parts[pick].arguments,
                               remote_url=parts[pick].remote_url, notes=tuple(notes))
            return
        await self._finish(live, parent.edit_request(), result, workdir)

    def _current(self, jobs: list[Job]) -> list[Job]:
        live = self._live.current()
        return [live.get(j.id, j) for j in jobs]

    def _resume(self, job: Job, engine: Engine, key_source: KeySource) -> Job:
        if not engine.can_resume:
            raise TypeError(f"engine {engine.name!r} cannot resume a request by id")
        job = self._store.update(job.id, status="queued", key_source=key_source, error=None,
                                finished_at=None, message=f"Resuming fal request {job.request_id}")
        self._start(job, engine, job.edit_request(), resume_id=job.request_id)
        return job

    async def _drive(self, live: LiveJob, engine: Engine, request: EditRequest,
                     resume_id: str | None) -> None:
        job_id = live.job.id
        workdir = self._store.job_dir(job_id)
        workdir.mkdir(parents=True, exist_ok=True)

        def on_event(event: ProgressEvent) -> None:
            self._live.on_event(live, event)

        def cancelled() -> str:
            return "Cancelled." if live.started else "Cancelled before it started."

        try:
            with self._ends_on_error(live, cancelled):
                if request.video.is_file():  # history's still of the input, made off the page's path
                    await asyncio.to_thread(make_thumbnail, request.video)
                async with self._slots.hold(engine.concurrency_key, live.cancel, owner=live.job.owner):
                    live.started = True
                    self._live.publish(live, urgent=True, status="running", started_at=time.time(),
                                       message="Resuming" if resume_id else "Starting")
                    if resume_id:
                        result = await engine.resume(resume_id, workdir, on_event, live.cancel)
                    else:
                        result = await engine.edit(request, workdir, on_event, live.cancel)
                # The edit exists (and on fal is paid for): a cancel from here on no longer applies.
                await self._finish(live, request, result, workdir)
        finally:
            # On asyncio.CancelledError (the loop closing) the job stays recorded as it was.
            self._live.remove(job_id)

    @contextlib.contextmanager
    def _ends_on_error(self, live: LiveJob, cancelled: Callable[[], str]) -> Iterator[None]:
        """How every job ends short of success, single edit or parent: a cancel, a failure the
        user can read (with the fal request id when there is one, to resume or report it), or an
        unexpected error, logged, with the job id to report."""
        try:
            yield
        except JobCancelled:
            self._live.publish(live, urgent=True, status="cancelled", finished_at=time.time(),
                               message=cancelled())
        except StudioError as error:
            request_id = getattr(error, "request_id", None) if isinstance(error, EngineError) else None
            self._live.publish(live, urgent=True, status="failed", finished_at=time.time(), error=str(error),
                               message=str(error), request_id=request_id or live.job.request_id)
        except Exception:
            log.exception("job %s failed unexpectedly", live.job.id)
            text = INTERNAL_FAILURE.format(id=live.job.id)
            self._live.publish(live, urgent=True, status="failed", finished_at=time.time(), error=text,
                               message=text)

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
        if request.extra.get("part_of") == "segments":  # its parent renders the joined clip instead
            rendered = Rendered(None, None)
        else:
            rendered = await self._renderer.render(live.job.id, original, result.video, workdir, report)
        notes = list(result.notes) + ([rendered.note] if rendered.note else [])
        timings = dict(result.timings)
        if rendered.seconds is not None:
            timings["side_by_side"] = rendered.seconds
        now = time.time()
        self._live.publish(live, urgent=True, status="succeeded", phase="done", fraction=1.0, finished_at=now,
                           message=READY, output_video=result.video,
                           side_by_side=rendered.path, remote_url=result.remote_url,
                           request_id=result.request_id or live.job.request_id,
                           arguments=result.arguments, timings=timings, notes=tuple(notes))

    async def _retention_once(self) -> None:
        try:
            await asyncio.to_thread(self.run_retention)
        except Exception:
            log.exception("retention pass failed")
