"""The video slot: upload or URL, the pre-flight panel, and "Fix it".

As soon as a clip is in, it is probed and checked against Kling O1's limits so the user learns
about a 12 s clip before paying for anything; "Fix it" conforms it (trim, rescale, transcode) and
the fixed clip replaces the input, which re-runs the same checks.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from components.config import MODEL_NAME, Settings
from components.errors import Finding, MediaError
from components.fetch import fetch_to_file
from components.media.conform import conform, plan_for
from components.media.limits import check_video, human_duration, human_size
from components.media.probe import probe
from components.ui.deps import Deps
from components.ui.errors import shows_errors
from components.ui.session import address_of

CONFORM_CONCURRENCY_ID = "conform"  # CPU work: one shared, low limit across all sessions
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


def inspect_video(path: str | Path | None, settings: Settings) -> tuple[Any, list[Finding]]:
    """Probe and check a clip; an unreadable file is itself a finding, not an exception."""
    if not path:
        return None, []
    try:
        info = probe(Path(path))
    except MediaError as error:
        return None, [Finding("error", "video", error.message, error.fix)]
    return info, check_video(info, settings.video)


def build(deps: Deps) -> VideoHandles:
    limits = deps.settings.video
    with gr.Group(elem_classes="video-slot"):
        video = gr.Video(label=f"Clip to edit (.mp4/.mov, {limits.min_seconds:g}-{limits.max_seconds:g} s)",
                         sources=["upload"], elem_id="input-video", height=300)
        with gr.Row(equal_height=True):
            url = gr.Textbox(placeholder="…or paste a link to an .mp4/.mov", show_label=False, scale=4,
                             elem_id="video-url")
            fetch = gr.Button("Fetch", scale=1, size="sm")
    preflight = gr.HTML("", elem_id="preflight", padding=False)
    # A Column, not a gr.Group: a Group repeats its elem_id on an inner div, and ids must be unique.
    with gr.Column(visible=False, elem_id="fix-it", variant="panel") as fix_group:
        with gr.Row():
            start = gr.Number(0.0, label="Start (s)", minimum=0, precision=2, visible=False)
            end = gr.Number(limits.max_seconds, label="End (s)", minimum=0, precision=2, visible=False)
        fix = gr.Button("Fix it", variant="secondary", elem_id="fix-it-button")
    changes = gr.Markdown("", elem_id="fix-changes")
    handles = VideoHandles(video, url, fetch, preflight, fix_group, start, end, fix, changes,
                           gr.State(None), gr.State([]))
    _wire(handles, deps)
    return handles


def _wire(h: VideoHandles, deps: Deps) -> None:
    settings, files = deps.settings, deps.files

    @shows_errors
    def on_clip(path: str | None):
        info, findings = inspect_video(files.optional(path, "The clip", "video"), settings)
        duration = getattr(info, "duration", None)
        too_long = bool(duration and duration > settings.video.max_seconds)
        fixable = info is not None and any(f.level == "error" for f in findings)
        return (panel_html(info, findings), gr.Column(visible=fixable),
                gr.Number(value=0.0, visible=too_long),
                gr.Number(value=settings.video.max_seconds if too_long else duration, visible=too_long),
                duration, findings)

    h.video.change(on_clip, h.video, [h.preflight, h.fix_group, h.start, h.end, h.duration, h.findings],
                   show_progress="minimal")
    # "Fixed: ..." describes the clip it was written for: a clip the user brings replaces it.
    gr.on([h.video.upload, h.video.clear], lambda: "", None, h.changes, queue=False, show_progress="hidden")

    @shows_errors
    def on_fetch(url: str, request: gr.Request):
        if not isinstance(url, str) or not url.strip():
            raise gr.Error("Paste a link to an .mp4 or .mov first.", title="No link")
        if len(url) > 4096:
            raise gr.Error("That link is longer than 4,096 characters; paste a direct link to the file.",
                           title="Link too long")
        address = address_of(request, settings)
        deps.writes.charge(address, 0, 1, what="This link's file")  # room for one more file first
        path = fetch_to_file(url, deps.scratch.new_folder(), max_bytes=settings.video.max_bytes,
                             timeout=settings.url_fetch_timeout_s)
        return str(deps.writes.kept(address, path, "This link's file")), ""

    # A refused link must not paint "Error" over the clip that is still loaded: the fetch writes
    # to states (gradio marks a failed event's outputs), and only a success moves the new clip
    # into the video slot. The toast says what was wrong; the loaded clip stays usable.
    fetched, fetched_note = gr.State(None), gr.State("")
    for trigger in (h.fetch.click, h.url.submit):
        trigger(on_fetch, h.url, [fetched, fetched_note], concurrency_limit=8, show_progress="hidden"
                ).success(lambda path, note: (path, note), [fetched, fetched_note], [h.video, h.changes],
                          queue=False, show_progress="hidden")

    @shows_errors
    def on_fix(path: str | None, start: float | None, end: float | None, request: gr.Request,
               progress=FIX_PROGRESS):
        if not path:
            raise gr.Error("Add a clip first.", title="No clip")
        path = files.require(path, "The clip", "video")
        # The fixed copy is about the clip's size (the size limit caps it): counted before it is made.
        deps.writes.charge(address_of(request, settings), path.stat().st_size, 1, what="The fixed clip")
        info = probe(path)
        too_long = info.duration > settings.video.max_seconds
        plan = plan_for(info, settings.video, start if too_long else None, end if too_long else None)
        progress(0.0, desc="Fixing the clip")
        result = conform(path, plan, deps.scratch.new_folder(),
                         on_progress=lambda fraction: progress(fraction, desc="Fixing the clip"))
        done = "; ".join(result.changes) if result.changes else "nothing needed changing"
        return str(result.path), f"{cut_note(start, end, plan.end, settings)}**Fixed:** {done}."

    h.fix.click(on_fix, [h.video, h.start, h.end], [h.video, h.changes],
                concurrency_limit=1, concurrency_id=CONFORM_CONCURRENCY_ID)


def cut_note(start: float | None, asked_end: float | None, kept_end: float | None,
             settings: Settings) -> str:
    """A sentence when the chosen end lay past the longest clip Kling accepts and was moved,
    so the shorter result is never a surprise; empty otherwise."""
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
                ("File", f"{human_size(info.size_bytes)}, {info.container}")]
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
