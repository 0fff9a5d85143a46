"""The page: inputs on the left, progress and results on the right, history and examples below.

Each panel module builds its own components and wires its own events; this module lays them out
and wires what crosses panels: the checks that gate Generate, the job a tab follows, history.
Generate only asks: it records the job with the runner and returns. The page then follows the job
on a ``gr.Timer`` whose tick is an unqueued async call that waits (on the event loop, no thread)
for the job's next change: no event stays open for a job's life, so no queue worker is held by a
watching page, closing the tab never stops a job, and a refreshed tab reattaches to it.
"""

from __future__ import annotations

import asyncio

import gradio as gr

from components.config import MODEL_NAME, Settings
from components.engines.select import build_engine, choose_engine
from components.errors import InputError
from components.intent import DuplicateSubmission
from components.jobs.family import part_count
from components.jobs.inputs import restored_inputs
from components.jobs.models import IN_FLIGHT_STATUSES, Job
from components.jobs.owner_secret import owner_secret, server_secret
from components.modes import parse_mode
from components.ui import (
    api,
    engine_panel,
    examples,
    long_clip,
    progress,
    references,
    results,
    session,
    video_panel,
)
from components.ui import elements as elements_panel
from components.ui import history as history_panel
from components.ui import parts as parts_panel
from components.ui import prompt as prompt_panel
from components.ui import share_panel as sharing
from components.ui.comparison import player_value
from components.ui.deps import Deps
from components.ui.errors import notify, shows_errors
from components.ui.links import job_file_url
from components.ui.session import page_caller, resolve_owner, user_key

# A following page asks at most once a tick; each ask waits up to FOLLOW_WAIT_S for the job's next
# change, so a job that changes rarely (queued at fal) costs a request per FOLLOW_WAIT_S per page.
FOLLOW_TICK_S = 0.5
FOLLOW_WAIT_S = 10.0
# Whole views sent at once (a few per job: its result, its end). Short, but when hundreds of jobs end
# together they queue; more at once would only share the same two cores and take page events' workers.
REFRESH_CONCURRENCY = 8


def build(deps: Deps) -> gr.Blocks:
    settings, runner, vault = deps.settings, deps.runner, deps.keys
    secret = server_secret(settings.data_dir)
    ttl_s = int(settings.upload_ttl_hours * 3600)
    # gradio's own cache (uploads and served copies) is cleaned like the scratch folder.
    with gr.Blocks(title="Kling O1 Edit Studio", delete_cache=(max(60, ttl_s // 4), ttl_s)) as demo:
        with gr.Row(elem_id="title-row"):
            span = f"{settings.video.min_seconds:g}-{settings.video.max_seconds:g} s"
            gr.Markdown(f"# Kling O1 Edit Studio\nEdit a {span} clip with words and pictures: {MODEL_NAME} "
                        "keeps the motion, you choose what changes.", elem_id="studio-title")
            if settings.hf_oauth:
                gr.LoginButton(elem_id="hf-login", scale=0)
        owner_state = session.build(owner_secret(settings.data_dir))
        job_id = gr.State(None)  # the job this tab follows (None: none)
        follow_timer = gr.Timer(FOLLOW_TICK_S, active=False)
        # Layout: the examples first (a demo starts there), then inputs on the left and, on the
        # right, Generate above its progress and result, so all three fit one 1440x900 screen.
        examples_row = gr.Column(elem_id="examples-block")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, elem_id="inputs"):
                video = video_panel.build(deps)
                long = long_clip.build(settings)
                prompt = prompt_panel.build(settings)
                with gr.Column(elem_id="attachments"), gr.Group():  # a Group repeats its elem_id
                    counter = gr.HTML(_counter(0, 0, settings), elem_id="reference-counter", padding=False)
                    elements_state = gr.State([])
                    with gr.Tab("Reference images"):
                        refs = references.build(deps, elements_state, prompt.prompt)
                    with gr.Tab("Elements"):
                        elems = elements_panel.build(deps, refs.images, prompt.prompt, elements_state)
                prompt_panel.wire(prompt, refs.images, elems.elements, settings)
                with gr.Row(equal_height=True):
                    keep_audio = gr.Checkbox(False, label="Keep the original audio", elem_id="keep-audio")
                    takes = gr.Slider(1, settings.max_takes, value=1, step=1, elem_id="takes",
                                      label=f"Takes: run it 1-{settings.max_takes} times at once, "
                                            "then choose (each is billed)")
                engine = engine_panel.build(settings)
                billed = gr.State(None)  # seconds one Generate bills: the clip per take, or the segments
                engine_panel.wire(engine, billed, vault, settings)
                long_clip.wire(long, video.video, video.duration, engine.tier, deps)
            with gr.Column(scale=6, elem_id="results"):
                with gr.Row(elem_id="generate-row"):
                    generate = gr.Button("Generate", variant="primary", interactive=False,
                                         elem_id="generate", scale=3)
                    cancel = gr.Button("Cancel", variant="stop", visible=False, elem_id="cancel", scale=1)
                status = progress.build()
                result = results.build()
                parts_view = parts_panel.build(settings)
        with examples_row:
            gr.Markdown("**Try an example** — one click fills the clip, instruction and references; "
                        "without a key the local preview edits it.", elem_classes="examples-title")
            examples.build(video.video, prompt.prompt, refs.images, elems.elements, video.changes)
        hist = history_panel.build(settings)
        sharing.build(deps, demo, owner_state, result, hist)  # under the result and in the history
        api.build(deps)

        hist_outputs = hist.outputs

        def owner_of(owner: object, profile: gr.OAuthProfile | None) -> str | None:
            return resolve_owner(owner, profile, secret)

        def present(job: Job, owner: str) -> dict:
            """The result area for ``job``: its result, and a parent's parts (takes, retry)."""
            shown = runner.children(job.id, owner) if job.is_parent else []
            return {**result.show(job, settings), **parts_view.show(job, shown)}

        def panel(job: Job, owner: str, whole: bool = False) -> str:
            """The progress panel, marked with what else the job shows (a result, its parts'
            states, its end): when that mark changes, the page asks for the whole view once,
            unless the panel is part of one (``whole``)."""
            parts = runner.children(job.id, owner) if job.is_parent else []
            summary = ",".join(f"{p.status}{'+' if p.output_video else ''}" for p in parts)
            ended = job.is_finished or job.status == "waiting_for_key"
            result_in = job.output_video is not None
            return progress.render(job, f"{job.id}:{int(ended)}:{int(result_in)}:{summary}", whole)

        def view(job: Job, owner: str) -> dict:
            """Everything the page shows of the job it follows.

            Result first: the player gets the edited clip the moment it is on disk, while the
            side-by-side mp4 still renders; the final view only adds that download. A job that
            ended stops the timer and refreshes the history."""
            updates = {status: panel(job, owner, whole=True)}
            if job.is_finished or job.status == "waiting_for_key":
                return {**updates, **present(job, owner), job_id: None, cancel: gr.Button(visible=False),
                        follow_timer: gr.Timer(active=False), **hist.show(runner.history(owner))}
            if job.output_video is not None:
                updates.update(present(job, owner))
            elif job.is_parent:  # each part's state as it changes
                updates.update(parts_view.show(job, runner.children(job.id, owner)))
            return {**updates, job_id: job.id, follow_timer: gr.Timer(active=True),
                    cancel: gr.Button(visible=job.output_video is None)}

        async def on_tick(jid: object, showing: object, owner: object, profile: gr.OAuthProfile | None):
            """The timer's tick: the followed job's new panel, or nothing while it has no news."""
            who = owner_of(owner, profile)
            job = None
            if isinstance(jid, str) and who:
                shown = progress.shown(showing)
                job = await runner.newer(jid, who, shown.at if shown and shown.job_id == jid else None,
                                         FOLLOW_WAIT_S)
                if job is None and runner.snapshot(jid, who) is not None:
                    return gr.skip()  # no news
            if job is None:  # nothing of this owner's to follow: the whole view stops the timer
                return progress.idle(refresh="stop")
            return panel(job, who)

        def on_refresh(jid: object, owner: object, profile: gr.OAuthProfile | None):
            """The whole view of the followed job, once its panel's mark changed (and a toast when
            it failed: this runs on the queue, which carries toasts)."""
            who = owner_of(owner, profile)
            job = runner.snapshot(jid, who) if isinstance(jid, str) and who else None
            if job is None:
                return {job_id: None, follow_timer: gr.Timer(active=False), cancel: gr.Button(visible=False)}
            if job.status == "failed":
                notify(job.error or "The edit failed.", "The edit failed")
            return view(job, who)

        follow_outputs = [status, job_id, follow_timer, cancel, *result.outputs, *parts_view.outputs,
                          *hist.outputs]
        # The tick is unqueued: a plain request on the event loop that waits (no thread, no queue
        # worker) for the job's next change, so thousands of following pages hold no worker;
        # trigger_mode "once" (a tick's default) sends no second ask while one waits. What the
        # page shows comes from its own panel, so nothing is written per tick. A refresh is short
        # and comes a few times a job: it may take a queue worker.
        follow_timer.tick(on_tick, [job_id, status, owner_state], status, queue=False, show_progress="hidden")
        status.submit(on_refresh, [job_id, owner_state], follow_outputs, show_progress="hidden",
                      concurrency_limit=REFRESH_CONCURRENCY, concurrency_id="refresh")

        def following(job: Job, owner: str) -> dict:
            """Start following ``job``: everything it shows now, on a page cleared of the last."""
            return {**result.clear(), **parts_view.clear(), **hist.show(runner.history(owner)),
                    **view(job, owner)}

        def history(owner: object, profile: gr.OAuthProfile | None):
            who = owner_of(owner, profile)
            return hist.show(runner.history(who)) if who else gr.skip()

        # ----- what gates Generate ---------------------------------------------------------------
        def recheck(clip, video_findings, segmented, long_findings, text, paths, items):
            text = text if isinstance(text, str) else ""
            if segmented is True:  # a long clip edited in segments: its length is no longer a problem
                video_findings = long_findings
            findings = prompt_panel.prompt_findings(text, paths, items, settings)
            ok = bool(clip) and not any(f.level == "error" for f in [*video_findings, *findings])
            return (prompt_panel.checks_html(findings, len(text), settings),
                    _counter(len(paths), len(items), settings), gr.Button(interactive=ok))

        gr.on([video.video.change, video.findings.change, long.use.change, long.findings.change,
               prompt.prompt.change, refs.images.change, elems.elements.change], recheck,
              [video.video, video.findings, long.use, long.findings, prompt.prompt, refs.images,
               elems.elements],
              [prompt.checks, counter, generate], show_progress="hidden", trigger_mode="always_last")

        # ----- generate, cancel, reattach ------------------------------------------------------
        def bill(seconds, plan, segmented, n_takes):
            return long_clip.billed_seconds(seconds, plan, segmented is True, n_takes)

        gr.on([video.duration.change, long.plan.change, long.use.change, takes.change], bill,
              [video.duration, long.plan, long.use, takes], billed, show_progress="hidden")

        @shows_errors
        async def on_generate(owner, clip, text, paths, items, audio, model, n_takes, segmented, overlap,
                              request: gr.Request, profile: gr.OAuthProfile | None):
            caller = page_caller(owner, request, profile, settings, secret)
            edit = deps.service.make_request(clip, text, paths, items, audio, model)
            mode = parse_mode(n_takes, segmented, overlap, settings)
            try:
                job = await asyncio.to_thread(deps.service.start, caller, user_key(vault, request), edit,
                                              mode)
            except DuplicateSubmission as refused:
                # One job per intent: the same edit sent again while it starts is not run twice;
                # say so and keep showing the job that is starting, instead of painting errors
                # over its progress and result.
                notify(str(refused), "Already started")
                known = runner.snapshot(refused.job_id, caller.owner) if refused.job_id else None
                return following(known, caller.owner) if known else gr.skip()
            return following(job, caller.owner)

        # One job per intent: the page disables Generate from the first click until the job is
        # known (progress.HOLD_UNTIL_KNOWN_JS); the service refuses a duplicate that gets through.
        generate.click(on_generate, [owner_state, video.video, prompt.prompt, refs.images,
                                     elems.elements, keep_audio, engine.tier, takes, long.use, long.overlap],
                       follow_outputs, show_progress="hidden")

        def on_cancel(jid: object, owner: object, profile: gr.OAuthProfile | None) -> None:
            who = owner_of(owner, profile)
            if isinstance(jid, str) and who:
                runner.cancel(jid, who)

        cancel.click(on_cancel, [job_id, owner_state], None, queue=False)

        def reattach(owner: object, profile: gr.OAuthProfile | None):
            """A returning tab gets its history, and follows its running edit again or else shows
            the newest finished result (one that completed while the tab was closed or the app
            restarted)."""
            who = owner_of(owner, profile)
            if not who:
                return gr.skip()
            jobs = runner.history(who)
            running = [j for j in jobs if j.status in IN_FLIGHT_STATUSES]
            if running:
                return following(running[0], who)
            if jobs and jobs[0].status == "succeeded" and not jobs[0].expired:
                return {status: progress.render(jobs[0]), job_id: None, cancel: gr.Button(visible=False),
                        **present(jobs[0], who), **hist.show(jobs)}
            return hist.show(jobs)

        def ensure_owner(owner: object, profile: gr.OAuthProfile | None) -> str:
            # The browser's own id, never the account's: that one lasts only as long as the sign-in.
            return session.ensure_owner(owner, account=owner_of(None, profile))

        demo.load(ensure_owner, owner_state, owner_state, queue=False
                  ).then(reattach, owner_state, follow_outputs, queue=False, show_progress="hidden")
        # The tab's key lives only as long as its session: closing the tab forgets it.
        def forget_key(request: gr.Request) -> None:
            vault.drop(session.session_id(request))

        demo.unload(forget_key)

        # ----- your key: resume jobs that waited for it ----------------------------------------
        def on_key(owner: object, has_key: bool, request: gr.Request, profile: gr.OAuthProfile | None):
            who = owner_of(owner, profile)
            choice = choose_engine(settings, user_key(vault, request))
            if not who or not has_key or choice.key_source != "user":
                return
            resumed = runner.resume_waiting(who, build_engine(choice, settings))
            if resumed:
                notify(f"{len(resumed)} fal job(s) that waited for your key are running again.",
                       "Picked up", "success")

        engine.key_set.change(on_key, [owner_state, engine.key_set], None
                              ).then(history, owner_state, hist_outputs, queue=False)

        # ----- history -----------------------------------------------------------------------
        hist.refresh.click(history, owner_state, hist_outputs, queue=False)

        def restore(owner: object, ids: list[str], evt: gr.SelectData, profile: gr.OAuthProfile | None):
            who = owner_of(owner, profile)
            index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            ok = who and isinstance(index, int) and 0 <= index < len(ids)
            job = runner.snapshot(ids[index], who) if ok else None
            if job is None or job.is_stub or job.expired:
                return gr.skip()
            try:  # the inputs become this tab's attachments again: one copy per content, like uploads
                req = restored_inputs(job.edit_request(), deps.scratch)
            except InputError:
                return gr.skip()
            return {video.video: str(req.video), prompt.prompt: req.prompt,
                    refs.images: [str(p) for p in req.images],
                    elems.elements: [e.to_dict() for e in req.elements],
                    keep_audio: req.keep_audio, status: progress.render(job), engine.tier: req.model,
                    long.use: job.kind == "segments", takes: part_count(job) if job.kind == "takes" else 1,
                    **present(job, who)}

        restored = [video.video, prompt.prompt, refs.images, elems.elements, keep_audio, status,
                    *result.outputs, engine.tier, long.use, takes, *parts_view.outputs]
        hist.table.select(restore, [owner_state, hist.job_ids], restored)
        hist.gallery.select(restore, [owner_state, hist.gallery_ids], restored)

        @shows_errors
        def compare(owner: object, a: object, b: object, profile: gr.OAuthProfile | None):
            who = owner_of(owner, profile)
            jobs = [runner.snapshot(j, who) if who and isinstance(j, str) else None for j in (a, b)]
            if any(j is None or j.output_video is None for j in jobs):
                raise InputError("Pick two finished results to compare.")
            if a == b:
                raise InputError("Result A and result B are the same edit, so there is nothing to compare.",
                                 fix="Pick a different result for B.")
            first, second = jobs
            # Two results in the player are no one result to share: "Share link" waits for one.
            return {result.player: player_value(first.output_video, second.output_video, None,
                                                labels=(f"A: {_short(first)}", f"B: {_short(second)}"),
                                                url=job_file_url(settings, who)),
                    result.shown: None}

        # ----- a parent's parts: choose a take, retry what failed ----------------------------------
        def choose_take(index: int):
            @shows_errors
            def choose(owner: object, parent: object, request: gr.Request, profile: gr.OAuthProfile | None):
                caller = page_caller(owner, request, profile, settings, secret)
                job = deps.service.choose(caller, parent, index)
                return {status: progress.render(job), **present(job, caller.owner)}
            return choose

        for index, button in enumerate(parts_view.choose):
            button.click(choose_take(index), [owner_state, parts_view.parent],
                         [status, *result.outputs, *parts_view.outputs]
                         ).then(history, owner_state, hist_outputs, queue=False)

        @shows_errors
        async def retry(owner: object, parent: object, request: gr.Request, profile: gr.OAuthProfile | None):
            caller = page_caller(owner, request, profile, settings, secret)
            job = await asyncio.to_thread(deps.service.retry, caller, user_key(vault, request), parent)
            return following(job, caller.owner)

        parts_view.retry.click(retry, [owner_state, parts_view.parent], follow_outputs,
                               show_progress="hidden")

        hist.compare.click(compare, [owner_state, hist.compare_a, hist.compare_b],
                           [result.player, result.shown])

        @shows_errors
        async def resume(owner: object, request_id: object, request: gr.Request,
                         profile: gr.OAuthProfile | None):
            caller = page_caller(owner, request, profile, settings, secret)
            job = await asyncio.to_thread(deps.service.resume, caller, user_key(vault, request), request_id)
            return following(job, caller.owner)

        hist.resume.click(resume, [owner_state, hist.request_id], follow_outputs, show_progress="hidden")
        api.publish_only_edit(demo)
    return demo


def _counter(n_images: int, n_elements: int, settings: Settings) -> str:
    used = n_images + n_elements
    full = " full" if used >= settings.max_references else ""
    return (f'<div class="reference-counter{full}">References used: <b>{used}/{settings.max_references}</b> '
            f"({n_images} image{'s' * (n_images != 1)}, {n_elements} element{'s' * (n_elements != 1)})</div>")


def _short(job: Job, limit: int = 40) -> str:
    """The job's prompt shortened at a word boundary (a label cut mid-word reads as a typo)."""
    text = " ".join(job.request.get("prompt", "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(",;:") + "…"
