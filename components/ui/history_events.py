"""What the history area does: restore an edit into the form, compare two results, resume a fal
job by its request id. Each reads the caller's own jobs through the edit service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from components.errors import InputError
from components.jobs.family import part_count
from components.jobs.models import Job
from components.ui import progress
from components.ui.comparison import player_value
from components.ui.deps import Deps
from components.ui.errors import shows_errors
from components.ui.follow import Follow
from components.ui.history import HistoryHandles, short_text
from components.ui.links import job_file_url
from components.ui.parts import PartsHandles
from components.ui.results import ResultHandles
from components.ui.session import Visitor


@dataclass(frozen=True)
class Inputs:
    """The form a restored edit fills."""

    video: gr.Video
    prompt: gr.Textbox
    images: Any
    elements: Any
    keep_audio: gr.Checkbox
    tier: gr.Radio
    segments: gr.Checkbox
    takes: gr.Slider


def wire(hist: HistoryHandles, form: Inputs, status: gr.HTML, result: ResultHandles, parts_view: PartsHandles,
         follow: Follow, owner_state: gr.BrowserState, history: Callable[..., Any], visitor: Visitor,
         deps: Deps) -> None:
    service = deps.service
    hist.refresh.click(history, owner_state, hist.outputs, queue=False, show_progress_on=hist.gallery)

    def restore(owner: object, ids: list[str], evt: gr.SelectData, profile: gr.OAuthProfile | None):
        who = visitor.owner(owner, profile)
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        ok = who and isinstance(ids, list) and isinstance(index, int) and 0 <= index < len(ids)
        # The inputs become this tab's attachments again, like fresh uploads.
        restored = service.restore(who, ids[index], deps.scratch) if ok else None
        if restored is None:
            return gr.skip()
        job, req = restored
        return {form.video: str(req.video), form.prompt: req.prompt,
                form.images: [str(p) for p in req.images], form.elements: [e.to_dict() for e in req.elements],
                form.keep_audio: req.keep_audio,
                status: progress.render(job), form.tier: req.model, form.segments: job.kind == "segments",
                form.takes: part_count(job) if job.kind == "takes" else 1, **follow.present(job, who)}

    restored = [form.video, form.prompt, form.images, form.elements, form.keep_audio, status,
                *result.outputs, form.tier, form.segments, form.takes, *parts_view.outputs]
    hist.table.select(restore, [owner_state, hist.job_ids], restored, show_progress_on=result.player)
    hist.gallery.select(restore, [owner_state, hist.gallery_ids], restored, show_progress_on=result.player)

    @shows_errors
    def compare(owner: object, a: object, b: object, profile: gr.OAuthProfile | None):
        who = visitor.owner(owner, profile)
        jobs = [service.job(who, j) if who else None for j in (a, b)]
        if any(j is None or j.output_video is None for j in jobs):
            raise InputError("Pick two finished results to compare.")
        if a == b:
            raise InputError("Result A and result B are the same edit, so there is nothing to compare.",
                             fix="Pick a different result for B.")
        first, second = jobs
        # Two results in the player are no one result to share: "Share link" waits for one.
        return {result.player: player_value(first.output_video, second.output_video, None,
                                            labels=(f"A: {_prompt(first)}", f"B: {_prompt(second)}"),
                                            names=("A", "B"), url=job_file_url(deps.settings, who)),
                result.shown: None}

    hist.compare.click(compare, [owner_state, hist.compare_a, hist.compare_b], [result.player, result.shown],
                       show_progress_on=result.player)

    follow.command(hist.resume.click, service.resume, owner_state, hist.request_id, visitor)


def _prompt(job: Job) -> str:
    return short_text(job.request.get("prompt", ""), 40)
