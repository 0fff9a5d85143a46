"""The video slot: upload or URL, the pre-flight panel, and "Fix it".

As soon as a clip is in, it is probed and checked against Kling O1's limits so the user learns
about a 12 s clip before paying for anything; "Fix it" conforms it (trim, rescale, transcode) and
the fixed clip replaces the input, which re-runs the same checks.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from components.config import MODEL_NAME, Settings
from components.edit.checks import video_facts
from components.errors import Finding, InputError
from components.media.conform import TRIM_MARGIN
from components.media.limits import container_name
from components.ui.deps import Deps
from components.ui.errors import shows_errors
from components.ui.session import Visitor
from components.ui.shown import QUIET
from components.units import human_duration, human_size

FIX_CONCURRENCY = 8
FIX_PROGRESS = gr.Progress()  # gradio injects the live tracker for a parameter defaulting to one


@dataclass(frozen=True)
class VideoHandles:
    video: gr.Video
    url: gr.Textbox
    fetch: gr.Button
    preflight: gr.HTML
    fix_group: gr.Column
    start: gr.Number
    end: gr.Number
    fix: gr.Button
    changes: gr.Markdown
    duration: gr.State  # float | None: seconds of the current clip (cost estimate)
    findings: gr.State  # list[Finding] for the current clip
    # int: counts clips a fetch or Fix it put in the slot (an upload has its own event). Set by queued
    # events only: gradio fires a State's change for those, not for an unqueued one.
    replaced: gr.State


def build(deps: Deps, owner: gr.State, visitor: Visitor) -> VideoHandles:
    limits = deps.settings.video
    with gr.Group(elem_classes="video-slot"):
        video = gr.Video(label=f"Clip to edit (.mp4/.mov, {limits.min_seconds:g}-{limits.max_seconds:g} s)",
                         sources=["upload"], elem_id="input-video", height=230)
        with gr.Row(equal_height=True):
            url = gr.Textbox(placeholder="…or paste a link to an .mp4/.mov", show_label=False, scale=4,
                             elem_id="video-url")
            fetch = gr.Button("Fetch", scale=1, size="sm")
    preflight = gr.HTML("", elem_id="preflight", padding=False)
    # A Column, not a gr.Group: a Group repeats its elem_id on an inner div, and ids must be unique.
    with gr.Column(visible=False, elem_id="fix-it", variant="panel") as fix_group:
        # Empty until the user types: a default would read as their choice ("the end you chose").
        keep = limits.max_seconds - TRIM_MARGIN
        with gr.Row():
            start = gr.Number(None, label="Keep from (s)", placeholder="0: the start", minimum=0, precision=2,
                              visible=False, elem_id="fix-start")
            end = gr.Number(None, label="to (s)", placeholder=f"{keep:g} s after the start", minimum=0,
                            precision=2, visible=False, elem_id="fix-end")
        fix = gr.Button("Fix it", variant="secondary", elem_id="fix-it-button")
    changes = gr.Markdown("", elem_id="fix-changes")
    handles = VideoHandles(video, url, fetch, preflight, fix_group, start, end, fix, changes,
                           gr.State(None), gr.State([]), gr.State(0))
    _wire(handles, owner, deps, visitor)
    return handles


def _wire(h: VideoHandles, owner: gr.State, deps: Deps, visitor: Visitor) -> None:
    settings, files = deps.settings, deps.files

    @shows_errors
    def on_clip(path: str | None):
        clip = files.optional(path, "The clip", "video")
        info, findings = video_facts(clip, settings) if clip else (None, [])
        duration = getattr(info, "duration", None)
        too_long = bool(duration and duration > settings.video.max_seconds)
        fixable = info is not None and any(f.level == "error" for f in findings)
        return (panel_html(info, findings), gr.Column(visible=fixable),
                gr.Number(value=None, visible=too_long),
                gr.Number(value=None, visible=too_long), duration, findings)

    h.video.change(on_clip, h.video, [h.preflight, h.fix_group, h.start, h.end, h.duration, h.findings],
                   show_progress="minimal", show_progress_on=h.preflight)
    # "Fixed: ..." describes the clip it was written for: a clip the user brings replaces it.
    gr.on([h.video.upload, h.video.clear], lambda: "", None, h.changes, queue=False, **QUIET)

    @shows_errors
    def on_fetch(owner: object, url: str, request: gr.Request, profile: gr.OAuthProfile | None):
        if not isinstance(url, str) or not url.strip():
            raise InputError("There is no link to fetch.", fix="Paste a link to an .mp4 or .mov first.")
        if len(url) > 4096:
            raise InputError("That link is longer than 4,096 characters.",
                             fix="Paste a direct link to the file.")
        caller = visitor.caller(owner, request, profile)
        return str(deps.service.fetch_clip(caller, url, deps.scratch.new_folder)), ""

    # A refused link must not paint "Error" over the clip that is still loaded: the fetch writes
    # to states (gradio marks a failed event's outputs), and only a success moves the new clip
    # into the video slot. The toast says what was wrong; the loaded clip stays usable.
    fetched, fetched_note = gr.State(None), gr.State("")
    for trigger in (h.fetch.click, h.url.submit):
        trigger(on_fetch, [owner, h.url], [fetched, fetched_note], concurrency_limit=8, **QUIET
                ).success(lambda path, note, n: (path, note, _next(n)), [fetched, fetched_note, h.replaced],
                          [h.video, h.changes, h.replaced], **QUIET)

    @shows_errors
    async def on_fix(owner: object, path: str | None, start: float | None, end: float | None,
                     request: gr.Request, profile: gr.OAuthProfile | None, progress=FIX_PROGRESS):
        if not path:
            raise InputError("There is no clip to fix.", fix="Add a clip first.")
        caller = visitor.caller(owner, request, profile)
        result, plan = await deps.service.fix_clip(caller, path, start, end, deps.scratch.new_folder,
                                                   lambda step, fraction: progress(fraction, desc=step))
        done = "; ".join(result.changes) if result.changes else "nothing needed changing"
        return str(result.path), f"{cut_note(start, end, plan.end, settings)}**Fixed:** {done}."

    # The wait for CPU is fair and bounded in the service (one fix per visitor, in turn with local
    # edits); the limit only caps how many queue workers waiting fixes may hold.
    h.fix.click(on_fix, [owner, h.video, h.start, h.end], [h.video, h.changes],
                concurrency_limit=FIX_CONCURRENCY, concurrency_id="fix", show_progress_on=h.video
                ).success(_next, h.replaced, h.replaced, **QUIET)


def _next(count: object) -> int:
    """The next value of ``replaced`` (a client may send anything: start again from 1)."""
    return count + 1 if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 2**31 else 1


def cut_note(start: float | None, asked_end: float | None, kept_end: float | None,
             settings: Settings) -> str:
    """A sentence when the end the user typed lay past the longest clip Kling accepts and was moved,
    so the shorter result is never a surprise; empty otherwise (and always for an end left empty)."""
    if asked_end is None or kept_end is None or asked_end <= kept_end + 0.005:
        return ""
    limit = settings.video.max_seconds
    return (f"**Cut:** the end you chose ({human_duration(asked_end)}) is more than {limit:g} s after the "
            f"start ({human_duration(start or 0.0)}), so the clip now ends at "
            f"{human_duration(kept_end)}.  \n")


def panel_html(info: Any, findings: list[Finding]) -> str:
    """Facts of the clip and every limit it breaks, each with its fix."""
    if info is None and not findings:
        return ""
    facts = ""
    if info is not None:
        audio = "yes" if info.has_audio else "none"
        fps = f"{info.fps:.3g}{' (variable)' if getattr(info, 'vfr', False) else ''}"
        rows = [("Duration", human_duration(info.duration)), ("Size", f"{info.width}×{info.height}"),
                ("Frame rate", f"{fps} fps"), ("Audio", audio),
                ("File", f"{human_size(info.size_bytes)}, {container_name(info.container)}")]
        facts = "".join(f"<div><dt>{k}</dt><dd>{html.escape(v)}</dd></div>" for k, v in rows)
        facts = f'<dl class="preflight-facts">{facts}</dl>'
    ok = findings_html(findings, ok=f"Within {MODEL_NAME} limits.")
    return f'<div class="preflight">{facts}{ok}</div>'


def findings_html(findings: list[Finding], ok: str = "") -> str:
    if not findings:
        return f'<p class="finding ok">✓ {html.escape(ok)}</p>' if ok else ""
    items = "".join(
        f'<li class="finding {f.level}" data-field="{html.escape(f.field)}">'
        f'<b>{"✕" if f.level == "error" else "!"}</b> {html.escape(f.message)}'
        f'{f" <i>{html.escape(f.fix)}</i>" if f.fix else ""}</li>'
        for f in findings)
    return f'<ul class="findings">{items}</ul>'
