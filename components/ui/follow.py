"""The job a tab follows: its progress panel on a timer, its whole view when something it shows
changes, and the tab's job again after a reload.

Commands that start a job (Generate, Retry, Resume) only record it and return its first view; the
page then follows it on a ``gr.Timer`` whose tick is an unqueued async call that waits (on the event
loop, no thread) for the job's next change. No event stays open for a job's life, so no queue worker
is held by a watching page, closing the tab never stops a job, and a reloaded tab reattaches to it.

Why a timer and not a streaming event: gradio's ``queueing.py`` takes one of ``max_threads`` workers
for each queued event until it returns, across every concurrency id, while ``routes.py`` runs an
unqueued async event inside its own request, with no worker and no thread. A tick updates only the
progress panel: ``blocks.py`` rebuilds a component for every output an event names, so a tick naming
the whole view cost a core at a hundred followers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from components.admission.spend import Caller
from components.config import Settings
from components.jobs.models import IN_FLIGHT_STATUSES, Job
from components.secret import Secret
from components.service import EditService
from components.ui import progress
from components.ui.errors import notify, shows_errors
from components.ui.history import HistoryHandles
from components.ui.parts import PartsHandles
from components.ui.results import ResultHandles
from components.ui.session import Visitor
from components.ui.shown import QUIET

# A following page asks at most once a tick; each ask waits up to FOLLOW_WAIT_S for the job's next
# change, so a job that changes rarely (queued at fal) costs a request per FOLLOW_WAIT_S per page.
# Progress comes at most once per FOLLOW_NEWS_GAP_S, and the end at once: every answer costs the
# page a pass of gradio's status updates, and a local edit reports progress many times a second.
FOLLOW_TICK_S = 0.5
FOLLOW_WAIT_S = 10.0
FOLLOW_NEWS_GAP_S = 1.0
# Whole views sent at once (a few per job: its result, its end). Short, but when hundreds of jobs end
# together they queue; more at once would only share the same two cores and take page events' workers.
REFRESH_CONCURRENCY = 8


@dataclass(frozen=True)
class Follow:
    job_id: gr.State  # the job this tab follows (None: none)
    outputs: list[Any]  # everything a view of the followed job updates
    start: Callable[[Job, str], dict]  # the first view of a job just started, on a cleared page
    present: Callable[[Job, str], dict]  # the result area (result and parts) of a job

    def on(self, trigger: Callable[..., Any], fn: Callable[..., Any], inputs: list[Any]) -> None:
        """Wire a command that starts a job the page then follows (``fn`` returns ``start(...)``)."""
        trigger(fn, inputs, self.outputs, **QUIET)

    def command(self, trigger: Callable[..., Any], act: Callable[[Caller, Secret | None, Any], Job],
                owner_state: gr.BrowserState, argument: Any, visitor: Visitor) -> None:
        """Wire a service command (``act(caller, the tab's key, argument's value)``, e.g. retry or
        resume) that starts a job, run off the event loop, then followed like Generate's."""
        @shows_errors
        async def run(owner: object, value: object, request: gr.Request, profile: gr.OAuthProfile | None):
            caller = visitor.caller(owner, request, profile)
            job = await asyncio.to_thread(act, caller, visitor.key(request), value)
            return self.start(job, caller.owner)

        self.on(trigger, run, [owner_state, argument])


def build(demo: gr.Blocks, service: EditService, settings: Settings, owner_state: gr.BrowserState,
          visitor: Visitor, status: gr.HTML, cancel: gr.Button, result: ResultHandles,
          parts_view: PartsHandles, hist: HistoryHandles) -> Follow:
    owner_of = visitor.owner
    job_id = gr.State(None)
    timer = gr.Timer(FOLLOW_TICK_S, active=False)

    def present(job: Job, owner: str) -> dict:
        return {**result.show(job, settings), **parts_view.show(job, service.parts(owner, job))}

    def panel(job: Job, owner: str, whole: bool = False) -> str:
        """The progress panel, marked with what else the job shows (a result, its parts' states,
        its end): when that mark changes, the page asks for the whole view once, unless the panel
        is part of one (``whole``)."""
        summary = ",".join(f"{p.status}{'+' if p.output_video else ''}" for p in service.parts(owner, job))
        ended = job.is_at_rest
        result_in = job.output_video is not None
        return progress.render(job, f"{job.id}:{int(ended)}:{int(result_in)}:{summary}", whole)

    def view(job: Job, owner: str) -> dict:
        """Everything the page shows of the job it follows.

        Result first: the player gets the edited clip the moment it is on disk, while the
        side-by-side mp4 still renders; the final view only adds that download. A job that ended
        stops the timer and refreshes the history."""
        updates = {status: panel(job, owner, whole=True)}
        if job.is_at_rest:
            return {**updates, **present(job, owner), job_id: None, cancel: gr.Button(visible=False),
                    timer: gr.Timer(active=False), **hist.show(service.history(owner))}
        if job.output_video is not None:
            updates.update(present(job, owner))
        elif job.is_parent:  # each part's state as it changes
            updates.update(parts_view.show(job, service.parts(owner, job)))
        return {**updates, job_id: job.id, timer: gr.Timer(active=True),
                cancel: gr.Button(visible=job.output_video is None)}

    def start(job: Job, owner: str) -> dict:
        return {**result.clear(), **parts_view.clear(), **hist.show(service.history(owner)),
                **view(job, owner)}

    async def on_tick(jid: object, showing: object, owner: object, profile: gr.OAuthProfile | None):
        """The timer's tick: the followed job's new panel, or nothing while it has no news."""
        who = owner_of(owner, profile)
        job = None
        shown = progress.shown(showing)
        if isinstance(jid, str) and who:
            job = await service.newer(who, jid, shown.at if shown and shown.job_id == jid else None,
                                      FOLLOW_WAIT_S, FOLLOW_NEWS_GAP_S)
            if job is None and service.job(who, jid) is not None:
                return gr.skip()  # no news
        if job is None:  # nothing of this owner's to follow: the whole view stops the timer
            # A tick the browser sent as the final view arrived (the timer stops a moment after the
            # job id is cleared) must not wipe the finished job's panel: the same panel, marked to stop.
            ended = service.job(who, shown.job_id) if who and shown else None
            return progress.render(ended, refresh="stop") if ended else progress.idle(refresh="stop")
        return panel(job, who)

    def on_refresh(jid: object, owner: object, profile: gr.OAuthProfile | None):
        """The whole view of the followed job, once its panel's mark changed (and a toast when it
        failed: this runs on the queue, which carries toasts)."""
        who = owner_of(owner, profile)
        job = service.job(who, jid) if who else None
        if job is None:
            return {job_id: None, timer: gr.Timer(active=False), cancel: gr.Button(visible=False)}
        if job.status == "failed":
            notify(job.error or "The edit failed.", "The edit failed")
        return view(job, who)

    outputs = [status, job_id, timer, cancel, *result.outputs, *parts_view.outputs, *hist.outputs]
    # trigger_mode "once" (a tick's default) sends no second ask while one waits; what the page
    # shows comes from its own panel, so nothing is written per tick. A refresh is short and comes
    # a few times a job: it may take a queue worker, on a concurrency id of its own.
    timer.tick(on_tick, [job_id, status, owner_state], status, queue=False, **QUIET)
    status.submit(on_refresh, [job_id, owner_state], outputs, **QUIET,
                  concurrency_limit=REFRESH_CONCURRENCY, concurrency_id="refresh")

    def reattach(owner: object, profile: gr.OAuthProfile | None):
        """A returning tab gets its history, and follows its running edit again or else shows the
        newest finished result (one that completed while the tab was closed or the app restarted)."""
        who = owner_of(owner, profile)
        if not who:
            return gr.skip()
        jobs = service.history(who)
        running = [j for j in jobs if j.status in IN_FLIGHT_STATUSES]
        if running:
            return start(running[0], who)
        if jobs and jobs[0].status == "succeeded" and not jobs[0].expired:
            return {status: progress.render(jobs[0]), job_id: None, cancel: gr.Button(visible=False),
                    **present(jobs[0], who), **hist.show(jobs)}
        return hist.show(jobs)

    def ensure_owner(owner: object, profile: gr.OAuthProfile | None) -> str:
        # The browser's own id, never an account's: that one lasts only as long as the sign-in.
        return visitor.keep(owner, profile)

    demo.load(ensure_owner, owner_state, owner_state, queue=False, **QUIET
              ).then(reattach, owner_state, outputs, queue=False, **QUIET)
    return Follow(job_id, outputs, start, present)
