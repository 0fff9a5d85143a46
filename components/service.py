"""The one door of the studio, shared by the page and the API: every command (start, plan, fix,
retry, choose, resume, cancel) and every query (a job, its parts, history, the engine a caller gets).

Everything a client sends is untrusted here: every file it names goes through ``TrustedFiles``
(only what gradio received as an upload, or what this server made, may be opened), the pre-flight
runs before any engine is chosen, and the server key is spent only through ``ServerKeyGuard``.
Both callers read the same sentences, and both go through the JobRunner, so an API edit is as
durable as a page edit. Queries take the owner id the caller resolved; a job of another owner reads
as no job at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from components.admission.local_quota import LocalQuota
from components.admission.ratelimit import SessionLimiter
from components.admission.spend import Caller, ServerKeyGuard
from components.config import MODEL_ID, Settings
from components.edit.checks import ensure_ok, preflight, video_facts
from components.edit.intent import SubmissionGuard, fingerprint
from components.edit.modes import SINGLE, EditMode, parse_mode
from components.edit.request import EditRequest, Element
from components.edit.request_id import check_request_id
from components.engines.base import CancelToken, Engine, KeySource
from components.engines.select import EngineChoice, build_engine, choose_engine
from components.errors import InputError
from components.guard.fetch import fetch_to_file
from components.guard.scratch import Scratch
from components.guard.trusted_files import TrustedFiles
from components.guard.write_allowance import WriteAllowance
from components.jobs import prepare
from components.jobs.inputs import restored_inputs
from components.jobs.models import IN_FLIGHT_STATUSES, Job, JobKind
from components.jobs.runner import JobRunner
from components.media.conform import ConformPlan, ConformResult, conform, plan_for
from components.media.probe import MediaInfo, probe
from components.secret import Secret
from components.segments.plan import SegmentPlan
from components.share.files import file_links
from components.share.store import Share, ShareStore

FIX_WAITING = "Waiting for a turn on the shared CPU"
FIXING = "Fixing the clip"


class EditService:
    def __init__(self, settings: Settings, runner: JobRunner, files: TrustedFiles, guard: ServerKeyGuard,
                 limiter: SessionLimiter, shares: ShareStore, intents: SubmissionGuard | None = None,
                 local: LocalQuota | None = None, writes: WriteAllowance | None = None) -> None:
        self.settings = settings
        self.runner = runner
        self.files = files
        self.guard = guard
        self.limiter = limiter
        self.shares = shares
        self.links = file_links(settings)  # the signed links to job files a page is given
        self.intents = intents or SubmissionGuard()  # one job per intent (components/edit/intent.py)
        self.local = local or LocalQuota(settings.local_jobs_queued, settings.local_seconds_per_hour)
        self.writes = writes  # what each address may make the server write (guard/write_allowance.py)
        runner.admit_plan = self._admit_plan  # a long clip's real plan, once the runner has made it
        self._addresses: dict[str, str] = {}  # a long clip being prepared -> the address that asked

    # ----- queries -------------------------------------------------------------------------------

    def engine(self, user_key: Secret | None, hf_user: str | None) -> EngineChoice:
        """The engine this caller's edit runs on: what the engine panel says and what every command
        uses, so the page never promises the server's key to someone its allow-list leaves out."""
        return choose_engine(self.settings, user_key, may_use_server_key=self.guard.may_use(hf_user))

    def job(self, owner: str, job_id: Any) -> Job | None:
        return self.runner.snapshot(job_id, owner) if isinstance(job_id, str) else None

    def parts(self, owner: str, parent: Job) -> list[Job]:
        """A parent's current parts in order (none for a single edit)."""
        return self.runner.children(parent.id, owner) if parent.is_parent else []

    def history(self, owner: str) -> list[Job]:
        return self.runner.history(owner)

    async def newer(self, owner: str, job_id: str, seen: float | None, timeout: float,
                    gap: float) -> Job | None:
        return await self.runner.newer(job_id, owner, seen, timeout, gap)

    def watch(self, owner: str, job_id: str) -> AsyncIterator[Job]:
        return self.runner.watch(job_id, owner)

    def cancel(self, owner: str, job_id: Any) -> bool:
        return isinstance(job_id, str) and self.runner.cancel(job_id, owner)

    def restore(self, owner: str, job_id: Any, scratch: Scratch) -> tuple[Job, EditRequest] | None:
        """A finished job of ``owner``'s and its inputs as the scratch folder's copies (one per
        content: picking it again writes nothing), to edit again as fresh uploads; the job's own
        files stay the job's. None when there is nothing to restore."""
        job = self.job(owner, job_id)
        if job is None or job.is_stub or job.expired:
            return None
        try:
            return job, restored_inputs(job.edit_request(), scratch)
        except InputError:
            return None

    # ----- commands ------------------------------------------------------------------------------

    def make_request(self, video: Any, prompt: Any, images: Any, elements: Any, keep_audio: Any,
                     model: Any = None) -> EditRequest:
        """An EditRequest from client values; every path must be an upload (or a file we made)."""
        if video is None or video == "":
            raise InputError("No clip is attached.",
                             fix="Upload an .mp4/.mov of 3-10.05 s or paste its link.", field="video")
        if prompt is not None and not isinstance(prompt, str):
            raise InputError("The prompt must be text.", fix="Send the instruction as a string.",
                             field="prompt")
        return EditRequest(
            prompt=prompt or "", video=self.files.require(video, "The clip", "video"),
            images=tuple(self.files.require_all(images, "Reference image", "images")),
            elements=tuple(self._element(e, i) for i, e in enumerate(_as_list(elements, "elements"),
                                                                     start=1)),
            keep_audio=keep_audio is True or keep_audio == "true",
            # The tier as the client sent it (None: the default); the pre-flight refuses an unknown one.
            model=(model.strip() if isinstance(model, str) else "") or MODEL_ID)

    def start(self, caller: Caller, user_key: Secret | None, request: EditRequest,
              mode: EditMode = SINGLE) -> Job:
        """Validate everything, then hand the edit to the runner; raises InputError/RateLimitError
        (DuplicateSubmission when the same owner sent this very edit moments ago and it is starting).
        ``mode`` makes it several takes, or a long clip's segments; each is a child of one parent."""
        info, video_findings = video_facts(request.video, self.settings, mode.segments)
        ensure_ok(preflight(request, self.settings, video_findings))
        assert info is not None  # a clip that cannot be probed is an error finding
        choice = self.engine(user_key, caller.hf_user)
        intent = f"{fingerprint(request)};{mode.key}"

        def still_running(job_id: str) -> bool:
            job = self.runner.snapshot(job_id, caller.owner)
            return job is not None and job.status in IN_FLIGHT_STATUSES

        self.intents.claim(caller.owner, intent, still_running)
        try:
            job = self._submit(caller, choice, request, mode, info)
        except BaseException:
            self.intents.release(caller.owner, intent)
            raise
        self.intents.started(caller.owner, intent, job.id)
        return job

    def plan(self, video: Any, overlap: Any = 0.0) -> SegmentPlan:
        """The segments a long clip would be edited in, as the page's timeline shows them: the
        estimate Generate admits (arithmetic on the clip's length, no decoding), since finding the
        shot changes reads the whole clip and is the runner's work once a job exists."""
        mode = parse_mode(1, True, overlap, self.settings)
        info, findings = video_facts(self.files.require(video, "The clip", "video"), self.settings, True)
        ensure_ok(findings)
        assert info is not None
        return prepare.estimate(info, mode.overlap, self.settings)

    async def fix_clip(self, caller: Caller, video: Any, start: Any, end: Any, folder: Callable[[], Path],
                       on_progress: Callable[[str, float], None]) -> tuple[ConformResult, ConformPlan]:
        """Conform a clip to the model's limits (trim to ``start``..``end`` when it is too long,
        rescale, transcode): a re-encode on the CPU everyone shares, so it takes the caller's turn
        at a local slot and counts in their local share (``LocalQuota.tool``). ``folder()`` is
        made only once the work is admitted."""
        path = self.files.require(video, "The clip", "video")
        # The fixed copy is about the clip's size: counted before it is made.
        self.charge_write(caller, path.stat().st_size, 1, "The fixed clip")
        info = await asyncio.to_thread(probe, path)
        too_long = info.duration > self.settings.video.max_seconds
        plan = plan_for(info, self.settings.video, _time(start) if too_long else None,
                        _time(end) if too_long else None)
        with self.local.tool(caller.owner, caller.address, self.runner.snapshot) as use:
            on_progress(FIX_WAITING, 0.0)

            def work(cancel: CancelToken) -> ConformResult:
                began = time.monotonic()
                on_progress(FIXING, 0.0)
                try:
                    return conform(path, plan, folder(), on_progress=lambda f: on_progress(FIXING, f),
                                   cancel=lambda: cancel.cancelled, info=info)
                finally:
                    use.seconds = time.monotonic() - began

            return await self.runner.run_local(caller.owner, work), plan

    def retry(self, caller: Caller, user_key: Secret | None, parent_id: Any) -> Job:
        """Run again only the failed parts of a finished segmented edit or set of takes."""
        parent = self.runner.snapshot(parent_id, caller.owner) if isinstance(parent_id, str) else None
        if parent is None or not parent.is_parent:
            raise InputError("There is no such segmented edit or set of takes in your history.",
                             fix="Pick one from the history list.")
        parent, again = self.runner.parts_to_retry(parent.id, caller.owner)
        choice = self.engine(user_key, caller.hf_user)
        engine = build_engine(choice, self.settings)
        if choice.key_source != "server":
            return self.runner.retry_parts(parent, again, engine, choice.key_source)
        model = parent.edit_request().model
        again = {i: replace(r, extra={**r.extra, "billed_usd": self.settings.cost(_seconds(r), model)})
                 for i, r in again.items()}
        with self.guard.lock:
            self.guard.admit(caller, sum(r.extra["billed_usd"] for r in again.values()), edits=len(again))
            return self.runner.retry_parts(parent, again, engine, "server")

    def choose(self, caller: Caller, parent_id: Any, part: Any) -> Job:
        """Make one take the result of a set of takes."""
        if not isinstance(parent_id, str) or isinstance(part, bool) or not isinstance(part, int):
            raise InputError("Pick a take to choose.", fix="Click “Choose” under a finished take.")
        return self.runner.choose_take(parent_id, caller.owner, part)

    def _submit(self, caller: Caller, choice: EngineChoice, request: EditRequest, mode: EditMode,
                info: MediaInfo) -> Job:
        """Every limit first (the session's, the local preview's share, the address's write allowance,
        the server key's budget and address limit), then the record: only an admitted job stages a
        file or starts any work.
        A long clip is admitted on its estimate (its plan without shot changes: arithmetic); the
        runner finds the real plan and admits it again (``_admit_plan``) before cutting it."""
        in_flight = sum(job.status in IN_FLIGHT_STATUSES for job in self.runner.history(caller.owner))
        self.limiter.acquire(caller.owner, in_flight)
        engine = build_engine(choice, self.settings)
        engine.check(request)  # what the engine would refuse anyway, refused before a file is staged
        kind: JobKind = "edit"
        parts = [request]
        if mode.segments:
            kind = "segments"
            estimate = prepare.estimate(info, mode.overlap, self.settings)
            seconds = [estimate.billed_seconds]
            runs = estimate.count
            request = replace(request, extra={**request.extra, "estimate": estimate.count})
        else:
            if mode.takes > 1:
                kind, parts = "takes", [request] * mode.takes
            seconds = [info.duration] * len(parts)  # every take is the same clip
            runs = len(parts)
        if engine.concurrency_key == "local":
            self.local.admit(caller.owner, caller.address, runs, self.runner.snapshot)
        if self.writes is not None:  # what staging writes: the inputs of the job (and of each take)
            n_bytes, files = self.runner.staging_cost(request)
            copies = len(parts) + 1 if kind == "takes" else 1
            self.writes.charge(caller.address, n_bytes * copies, files * copies, what="This edit's files")
        if choice.key_source == "server":
            costs = [self.settings.cost(s, request.model) for s in seconds]
            if mode.segments:  # the parent holds the estimate until its segments hold their own costs
                request = replace(request, extra={**request.extra, "billed_usd": costs[0]})
            else:
                parts = [replace(p, extra={**p.extra, "billed_usd": c})
                         for p, c in zip(parts, costs, strict=True)]
            with self.guard.lock:  # the budget check and the job rows that count against it, as one step
                self.guard.admit(caller, sum(costs), edits=runs)
                job = self._hand_over(caller, kind, request, parts, engine, "server", mode)
        else:
            job = self._hand_over(caller, kind, request, parts, engine, choice.key_source, mode)
        if engine.concurrency_key == "local":
            self.local.started(caller.owner, caller.address, job.id, runs)
        return job

    def _hand_over(self, caller: Caller, kind: JobKind, parent: EditRequest, parts: list[EditRequest],
                   engine: Engine, key_source: KeySource | None, mode: EditMode) -> Job:
        if kind == "edit":
            return self.runner.submit(caller.owner, parts[0], engine, key_source)
        if kind == "segments":
            parent_id = uuid.uuid4().hex
            if key_source == "server":  # for _admit_plan; in memory only: the store keeps no address
                self._addresses[parent_id] = caller.address
            return self.runner.submit_segments(caller.owner, parent, mode.overlap, engine, key_source,
                                               parent_id=parent_id)
        return self.runner.submit_parent(caller.owner, kind, parent, parts, engine, key_source)

    @contextlib.contextmanager
    def _admit_plan(self, parent: Job, plan: SegmentPlan) -> Iterator[None]:
        """A long clip's real plan on the server's key: what it costs and runs beyond the estimate
        its request admitted must fit the budget and the address limit too (shot changes can add
        segments). Held while the runner records the plan, so the budget never counts both."""
        address = self._addresses.pop(parent.id, "unknown")  # unknown after a restart
        if parent.key_source != "server":
            yield
            return
        extra = parent.request.get("extra", {})
        more_cost = max(0.0, self.settings.cost(plan.billed_seconds, parent.edit_request().model)
                        - float(extra.get("billed_usd") or 0.0))
        more_runs = max(0, plan.count - int(extra.get("estimate") or 0))
        with self.guard.lock:
            if more_cost or more_runs:
                self.guard.admit(Caller(parent.owner, address), more_cost, edits=more_runs)
            yield

    def resume(self, caller: Caller, user_key: Secret | None, request_id: Any) -> Job:
        """Reattach to a fal request: any id with the user's own key, only the caller's own
        requests with the server's key (it must not fetch strangers' results on the owner's bill)."""
        rid = check_request_id(request_id if isinstance(request_id, str) else None)
        choice = self.engine(user_key, caller.hf_user)
        if choice.name != "fal":
            raise InputError("Resuming a fal job needs a fal key.",
                             fix="Enter your fal key above (or run the app with FAL_KEY set).",
                             field="request_id")
        if choice.key_source == "server" and self.runner.find_by_request_id(caller.owner, rid) is None:
            raise InputError("That request id is not one of your edits on this server, so its key "
                             "will not fetch it.", fix="Enter the fal key it was made with, then resume.",
                             field="request_id")
        return self.runner.resume_by_request_id(caller.owner, rid, build_engine(choice, self.settings),
                                                choice.key_source)

    def fetch_clip(self, caller: Caller, url: str, folder: Callable[[], Path],
                   max_bytes: int | None = None) -> Path:
        """A file from a link the caller gave (a clip, or for the API a picture too), in
        ``folder()``, counted against the caller's address's write allowance (room for one more
        file first, then its real size)."""
        self.charge_write(caller, 0, 1, "This link's file")
        path = fetch_to_file(url, folder(), max_bytes=max_bytes or self.settings.video.max_bytes,
                             timeout=self.settings.url_fetch_timeout_s)
        return self.writes.kept(caller.address, path, "This link's file") if self.writes is not None else path

    def linked_file(self, caller: Caller, url: str, folder: Callable[[], Path]) -> Path | None:
        """A copy in ``folder()`` of the job file a signed link of this app names (a result fed
        back in: the link is the credential its owner was given), counted against the caller's
        write allowance; None when the URL is not such a link or the link is not sound."""
        found = self.links.resolve(urlsplit(url).path, self.runner.owner_of)
        if found is None:
            return None
        self.charge_write(caller, found.stat().st_size, 1, "This result's copy")
        copy = folder() / found.name
        shutil.copyfile(found, copy)
        return copy

    def charge_write(self, caller: Caller, n_bytes: int, files: int, what: str) -> None:
        """Count a file the server is about to write for the caller, or refuse it (``RateLimitError``)
        when its address's allowance has no room left (``guard/write_allowance.py``)."""
        if self.writes is not None:
            self.writes.charge(caller.address, n_bytes, files, what=what)

    # ----- share links ---------------------------------------------------------------------------

    def share(self, owner: str, job_id: Any) -> str:
        """A read-only link's token for ``owner``'s finished result (the same one if it has one)."""
        return self.shares.create(job_id, owner)

    def share_token(self, owner: str, job_id: Any) -> str | None:
        return self.shares.token_for(job_id, owner) if self.job(owner, job_id) else None

    def unshare(self, owner: str, token: Any) -> bool:
        """Revoke ``owner``'s link; False when it is not one of theirs."""
        return self.shares.revoke(token, owner)

    def share_links(self, owner: str) -> list[Share]:
        return self.shares.active_for_owner(owner)

    def resume_on_key(self, caller: Caller, user_key: Secret | None) -> list[Job]:
        """Run again the caller's jobs that waited for their key (a restart forgot it), now that
        the caller's tab has one."""
        choice = self.engine(user_key, caller.hf_user)
        if choice.key_source != "user":
            return []
        return self.runner.resume_waiting(caller.owner, build_engine(choice, self.settings))

    def _element(self, value: Any, index: int) -> Element:
        if not isinstance(value, dict):
            raise InputError(f"Element {index} must be an object with a frontal image and references.",
                             fix='Send {"frontal": file, "references": [files]}.',
                             field=f"elements[{index - 1}]")
        field = f"elements[{index - 1}]"
        front = self.files.optional(value.get("frontal"), f"Element {index}'s frontal image",
                                    f"{field}.frontal")
        refs = self.files.require_all(_as_list(value.get("references"), f"{field}.references"),
                                      f"Element {index}'s reference image", f"{field}.references")
        return Element(frontal=front, references=tuple(refs))


def _as_list(value: Any, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{field} must be a list.", fix="Send a list (it may be empty).", field=field)
    return list(value)


def _time(value: Any) -> float | None:
    """A start or end in seconds as a client sent it; anything but a finite number means unset."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _seconds(request: EditRequest) -> float:
    """What fal bills: the clip's length."""
    return probe(request.video).duration
