"""What a job does on the runner loop, from its slot to its end: one edit (stage, slot, engine,
result first, side-by-side, final state) or a family (prepare a long clip's segments, follow the
parts, settle what they add up to). ``JobRunner`` is the public face; this is its engine room.

A job is cancelled one way only: its ``CancelToken``. It stops a job waiting for a slot (the wait
wakes up) as well as a running engine (which polls it). Task cancellation means only that the loop
is closing, and leaves the job recorded as running for ``recover``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from components.config import Settings
from components.edit.request import EditRequest
from components.engines.base import EditResult, Engine, ProgressEvent
from components.errors import EngineError, JobCancelled, StudioError
from components.jobs import family, outcome, prepare
from components.jobs.inputs import copy_inputs
from components.jobs.live import LiveJob, LiveJobs
from components.jobs.loop import RunnerLoop
from components.jobs.models import Job, KeySource
from components.jobs.motion_stage import MotionStage
from components.jobs.render import Rendered, SideBySideRenderer
from components.jobs.slots import EngineSlots
from components.jobs.store import JobStore
from components.media.thumbnail import make_thumbnail
from components.segments.plan import SegmentPlan

log = logging.getLogger(__name__)

READY = "The edit is ready"  # the progress panel says how long it took, beside it


def waiting_message(engine: Engine, settings: Settings) -> str:
    """What a job says while it waits for one of its engine's slots."""
    if engine.name == "fal":
        edits = settings.fal_concurrency
        return f"Sent to fal when one of the {edits} edits this studio has there at once finishes"
    runs = "one edit" if settings.local_concurrency == 1 else f"{settings.local_concurrency} edits"
    return f"Starts when a run ends: the local preview runs {runs} at a time on this machine"


async def _still_of_input(request: EditRequest) -> None:
    """History's still of a job's input, made here, off the page's path, before the job waits for
    anything: a single edit and a parent alike (a long clip's parts take minutes, and a parent that
    fails or is cancelled never gets a result's still) show a picture from the start."""
    if request.video.is_file():
        await asyncio.to_thread(make_thumbnail, request.video)


INTERNAL_FAILURE = ("The edit stopped because of an unexpected error inside the studio (job {id}). "
                    "Run it again; if it keeps failing, report the job id.")


class JobDriver:
    def __init__(self, store: JobStore, settings: Settings, loop: RunnerLoop, live: LiveJobs,
                 slots: EngineSlots, renderer: SideBySideRenderer, *,
                 cancel: Callable[[str, str], bool]) -> None:
        self._store = store
        self.settings = settings
        self._loop = loop
        self._live = live
        self._slots = slots
        self._renderer = renderer
        self._cancel = cancel  # the runner's: a parent's cancel reaches each part the same way
        self.admit_plan: prepare.AdmitPlan = prepare.admit_nothing
        self._motion = MotionStage(store.jobs_root.parent / "motion")  # beside the jobs, not in one

    def create_children(self, parent: Job, parts: Sequence[EditRequest], engine: Engine,
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
                                                   message=waiting_message(engine, self.settings)), copied))
        except BaseException:
            self.discard(made)
            if indices is None:  # a new family: nothing of it has run, so none of it is left behind
                self.discard([parent.id])
            raise
        return children

    def discard(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            shutil.rmtree(self._store.job_dir(job_id), ignore_errors=True)
            self._store.delete(job_id)

    def start(self, job: Job, engine: Engine, request: EditRequest, resume_id: str | None = None) -> None:
        live = self._live.add(job)
        self._loop.run(self._drive(live, engine, request, resume_id))

    def start_parent(self, parent: Job, engine: Engine | None = None,
                      children: Sequence[tuple[Job, EditRequest]] = ()) -> None:
        """Follow ``parent``'s parts, starting ``children`` first; a long clip not yet cut into
        its segments is prepared first, with ``engine`` running the segments it becomes."""
        live = self._live.add(parent)
        live.cancel.on_cancel(lambda: self._cancel_parts(parent))
        for child, copied in children:
            self.start(child, engine, copied)  # type: ignore[arg-type]  # children come with one
        self._loop.run(self._drive_parent(live, engine))

    def _cancel_parts(self, parent: Job) -> None:
        for child in self._store.children(parent.id):
            self._cancel(child.id, parent.owner)

    async def _drive_parent(self, live: LiveJob, engine: Engine | None) -> None:
        """Prepare the parts if they do not exist yet, follow them until none is in flight, then
        make what they add up to."""
        try:
            with self._ends_on_error(live, lambda: prepare.CANCELLED):
                await _still_of_input(live.job.edit_request())
                await self._follow_parts(live, engine)
        finally:
            self._live.remove(live)

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
            children = self.create_children(updated, parts, engine, indices=range(len(parts)))
        finally:
            prepare.drop_cut_files(folder)  # the children hold links to the files they use
        for child, copied in children:
            self.start(child, engine, copied)
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
            proposed = outcome.best_motion([parts[i] for i in done])
            pick = parent.chosen if parent.chosen in done else proposed if proposed is not None else done[0]
            chosen = outcome.chosen_take(parts[pick], workdir)
            notes = [outcome.takes_note(len(done), total, pick), *problems]
            if pick == proposed and parent.chosen is None:
                notes.insert(1, outcome.proposed_note(parts, pick))
            now = time.time()
            self._live.publish(live, urgent=True, status="succeeded", phase="done", fraction=1.0,
                               finished_at=now, chosen=pick, message=READY,
                               output_video=chosen.video, side_by_side=chosen.side_by_side,
                               request_id=parts[pick].request_id, arguments=parts[pick].arguments,
                               remote_url=parts[pick].remote_url, motion_fidelity=parts[pick].motion_fidelity,
                               notes=tuple(notes))
            return
        await self._finish(live, parent.edit_request(), result, workdir)

    def _current(self, jobs: list[Job]) -> list[Job]:
        live = self._live.current()
        return [live.get(j.id, j) for j in jobs]

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
                await _still_of_input(request)
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
            self._live.remove(live)

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
        score = None
        if request.extra.get("part_of") != "segments":  # a segment is scored in its joined clip
            report("The edit is ready; measuring how much of the original's motion it kept", True)
            score, why_not = await self._motion.measure(live.job.id, original, result.video)
            notes += [why_not] if why_not else []
        now = time.time()
        self._live.publish(live, urgent=True, status="succeeded", phase="done", fraction=1.0, finished_at=now,
                           message=READY, output_video=result.video,
                           side_by_side=rendered.path, remote_url=result.remote_url,
                           request_id=result.request_id or live.job.request_id, motion_fidelity=score,
                           arguments=result.arguments, timings=timings, notes=tuple(notes))
