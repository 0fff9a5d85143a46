"""The page: inputs on the left, progress and results on the right, history and examples below.

Each panel module builds its own components and wires its own events; this module lays them out
and wires what crosses panels: the checks that gate Generate, Generate and Cancel, the tab's key.
Generate only asks: the edit service records the job and the page follows it (``follow.py``);
history (``history_events.py``) and a parent's parts (``parts.py``) wire their own commands.
"""

from __future__ import annotations

import asyncio
import html

import gradio as gr

from components.config import MODEL_NAME, Settings
from components.edit.intent import DuplicateSubmission
from components.edit.modes import parse_mode
from components.guard.owner_secret import owner_secret
from components.ui import (
    api,
    engine_panel,
    examples,
    history_events,
    long_clip,
    progress,
    references,
    results,
    session,
    video_panel,
)
from components.ui import elements as elements_panel
from components.ui import follow as follow_panel
from components.ui import history as history_panel
from components.ui import parts as parts_panel
from components.ui import prompt as prompt_panel
from components.ui import share_panel as sharing
from components.ui.deps import Deps
from components.ui.errors import notify, shows_errors
from components.ui.shown import QUIET
from components.units import human_count


def build(deps: Deps) -> gr.Blocks:
    settings, service, vault = deps.settings, deps.service, deps.keys
    visitor = session.Visitor(settings, vault, deps.accounts)  # who every page event comes from
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
        # Layout: a strip of examples first (a demo starts there), then inputs on the left and, on
        # the right, Generate with its engine, cost and what it waits for, above the progress and
        # the result: clip, instruction, Generate and the result's place share one 1440x900 screen.
        examples_row = gr.Column(elem_id="examples-block")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, elem_id="inputs"):
                video = video_panel.build(deps, owner_state, visitor)
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
                                            "then choose",
                                      info=_takes_info(service.engine(None, None).charges))
                engine = engine_panel.build(settings, service)
            with gr.Column(scale=6, elem_id="results"):
                with gr.Row(elem_id="generate-row"):
                    generate = gr.Button("Generate", variant="primary", interactive=False,
                                         elem_id="generate", scale=3)
                    cancel = gr.Button("Cancel", variant="stop", visible=False, elem_id="cancel", scale=1)
                engine.status.render()
                why = gr.HTML(_why(False, [], False), elem_id="generate-why", padding=False)
                status = progress.build()
                result = results.build()
                parts_view = parts_panel.build(settings)
            billed = gr.State(None)  # seconds one Generate bills: the clip per take, or the segments
            engine_panel.wire(engine, billed, demo.load, service, vault, settings)
            long_clip.wire(long, video.video, video.duration, engine.tier, engine.key_set, deps)

            def takes_words(request: gr.Request, profile: gr.OAuthProfile | None) -> gr.Slider:
                paid = service.engine(session.user_key(vault, request), session.hf_user(profile)).charges
                return gr.Slider(info=_takes_info(paid))

            gr.on([demo.load, engine.key_set.change], takes_words, None, takes, queue=False,
                  **QUIET)
        with examples_row:
            gr.Markdown("**Try an example** — one click fills the clip, instruction and references; "
                        "without a key the local preview edits it.", elem_classes="examples-title")
            example_buttons = examples.build(video.video, prompt.prompt, refs.images, elems.elements,
                                             video.changes)
        hist = history_panel.build(settings)
        sharing.build(deps, demo, owner_state, visitor, result, hist)  # under the result and in the history
        api.build(deps)

        owner_of = visitor.owner
        follow = follow_panel.build(demo, service, settings, owner_state, visitor, status, cancel, result,
                                    parts_view, hist)

        def history(owner: object, profile: gr.OAuthProfile | None):
            who = owner_of(owner, profile)
            return hist.show(service.history(who)) if who else gr.skip()

        # ----- what gates Generate, and why it waits ------------------------------------------
        # The instruction's findings wait until it was typed in (or had text): a clip just dropped
        # is not met with a red "The prompt is empty"; the line under Generate says what is missing.
        touched = gr.State(False)

        def recheck(clip, video_findings, segmented, long_findings, text, paths, items, typed):
            text = text if isinstance(text, str) else ""
            typed = typed is True or bool(text.strip())
            if segmented is True:  # a long clip edited in segments: its length is no longer a problem
                video_findings = long_findings
            findings = prompt_panel.prompt_findings(text, paths, items, settings)
            shown = findings if typed else [f for f in findings if f.field != "prompt"]
            blocking = [f for f in [*video_findings, *findings] if f.level == "error"]
            ok = bool(clip) and not blocking
            return (prompt_panel.checks_html(shown, len(text), settings),
                    _counter(len(paths), len(items), settings), gr.Button(interactive=ok),
                    _why(bool(clip), blocking, bool(text.strip())), typed)

        checked = [video.video, video.findings, long.use, long.findings, prompt.prompt, refs.images,
                   elems.elements, touched]
        gates = [prompt.checks, counter, generate, why, touched]
        gr.on([video.video.change, video.findings.change, long.use.change, long.findings.change,
               prompt.prompt.change, refs.images.change, elems.elements.change], recheck, checked, gates,
              **QUIET, trigger_mode="always_last")
        # Visiting the box and leaving it empty is touching it: its findings show from then on.
        prompt.prompt.blur(lambda: True, None, touched, queue=False, **QUIET
                           ).then(recheck, checked, gates, **QUIET)

        # ----- a new clip: the previous result leaves with the old one --------------------------
        def forget_result(following: object):
            """The result, its details, code and share link belong to the clip they were made
            from; a job still running keeps its progress panel (the page follows it on)."""
            idle = {} if isinstance(following, str) else {status: progress.idle("No edit of this clip yet.")}
            return {**result.clear(), **parts_view.clear(), **idle}

        gr.on([video.video.upload, video.video.clear, video.replaced.change,
               *(button.click for button in example_buttons)], forget_result, follow.job_id,
              [status, *result.outputs, *parts_view.outputs], queue=False, **QUIET)

        # ----- generate, cancel, reattach ------------------------------------------------------
        def bill(seconds, plan, segmented, n_takes):
            return long_clip.billed_seconds(seconds, plan, segmented is True, n_takes)

        gr.on([video.duration.change, long.plan.change, long.use.change, takes.change], bill,
              [video.duration, long.plan, long.use, takes], billed, **QUIET)

        @shows_errors
        async def on_generate(owner, clip, text, paths, items, audio, model, n_takes, segmented, overlap,
                              request: gr.Request, profile: gr.OAuthProfile | None):
            caller = visitor.caller(owner, request, profile)
            edit = service.make_request(clip, text, paths, items, audio, model)
            mode = parse_mode(n_takes, segmented, overlap, settings)
            try:
                job = await asyncio.to_thread(service.start, caller, visitor.key(request), edit,
                                              mode)
            except DuplicateSubmission as refused:
                # One job per intent: the same edit sent again while it starts is not run twice;
                # say so and keep showing the job that is starting, instead of painting errors
                # over its progress and result.
                notify(str(refused), "Already started")
                known = service.job(caller.owner, refused.job_id)
                return follow.start(known, caller.owner) if known else gr.skip()
            return follow.start(job, caller.owner)

        # One job per intent: the page disables Generate from the first click until the job is
        # known (progress.HOLD_UNTIL_KNOWN_JS); the service refuses a duplicate that gets through.
        follow.on(generate.click, on_generate, [owner_state, video.video, prompt.prompt, refs.images,
                                                elems.elements, keep_audio, engine.tier, takes, long.use,
                                                long.overlap])

        def on_cancel(jid: object, owner: object, profile: gr.OAuthProfile | None) -> None:
            who = owner_of(owner, profile)
            if who:
                service.cancel(who, jid)

        cancel.click(on_cancel, [follow.job_id, owner_state], None, queue=False)

        # The tab's key lives only as long as its session: closing the tab forgets it.
        def forget_key(request: gr.Request) -> None:
            vault.drop(session.session_id(request))

        demo.unload(forget_key)

        # ----- your key: resume jobs that waited for it ----------------------------------------
        def on_key(owner: object, has_key: bool, request: gr.Request, profile: gr.OAuthProfile | None):
            if not has_key or not owner_of(owner, profile):
                return
            caller = visitor.caller(owner, request, profile)
            resumed = service.resume_on_key(caller, visitor.key(request))
            if resumed:
                notify(f"{human_count(len(resumed), 'fal job')} that waited for your key "
                       f"{'is' if len(resumed) == 1 else 'are'} running again.",
                       "Picked up", "success")

        engine.key_set.change(on_key, [owner_state, engine.key_set], None
                              ).then(history, owner_state, hist.outputs, queue=False, **QUIET)

        # ----- history and a parent's parts: restore, compare, resume; choose a take, retry --------
        inputs = history_events.Inputs(video.video, prompt.prompt, refs.images, elems.elements, keep_audio,
                                       engine.tier, long.use, takes)
        history_events.wire(hist, inputs, status, result, parts_view, follow, owner_state, history, visitor,
                            deps)
        parts_panel.wire(parts_view, status, result, follow, owner_state, history, hist, visitor, deps)
        api.publish_only_edit(demo)
    return demo


def _takes_info(paid: bool) -> str:
    """What a take is on the engine the tab has: a bill each on fal, a recoloured copy locally."""
    if paid:
        return "Each take is a run of its own, billed."
    return ("Free here, but the local preview cannot invent a new take: takes 2-4 are take 1 with its "
            "colours turned round the hue wheel.")


def _why(clip: bool, blocking: list, text: bool) -> str:
    """Under Generate: what it waits for, in the words of the first thing missing; empty when ready."""
    if not clip:
        reason = "Add a clip (or pick an example) to start."
    elif blocking and blocking[0].field == "prompt" and not text:
        reason = "Write the instruction: what should change in the clip."
    elif blocking:
        reason = f"First: {blocking[0].message}"
    else:
        return '<p class="generate-why ready" data-ready="1"></p>'
    return f'<p class="generate-why" data-ready="0">Generate waits: {html.escape(reason)}</p>'


def _counter(n_images: int, n_elements: int, settings: Settings) -> str:
    used = n_images + n_elements
    full = " full" if used >= settings.max_references else ""
    return (f'<div class="reference-counter{full}">References used: <b>{used}/{settings.max_references}</b> '
            f"({n_images} image{'s' * (n_images != 1)}, {n_elements} element{'s' * (n_elements != 1)})</div>")
