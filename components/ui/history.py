"""This browser's edits: a list with thumbnails, restore one, compare two, resume by request id.

Everything comes from the job store filtered by the owner id, so history survives refreshes and
restarts, and one browser never sees another's jobs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.config import Settings
from components.errors import MediaError
from components.jobs.models import Job
from components.media.ffmpeg import run
from components.ui.progress import STATUS_WORDS

COLUMNS = ["When", "Status", "Engine", "Prompt", "Request id", "Job"]


@dataclass(frozen=True)
class HistoryHandles:
    gallery: gr.Gallery
    table: gr.Dataframe
    job_ids: gr.State  # list[str]: the table's rows, newest first
    gallery_ids: gr.State  # list[str]: the gallery's items (jobs that have a thumbnail)
    refresh: gr.Button
    compare_a: gr.Dropdown
    compare_b: gr.Dropdown
    compare: gr.Button
    request_id: gr.Textbox
    resume: gr.Button


def build() -> HistoryHandles:
    with gr.Row():
        gr.Markdown("### History", elem_classes="section-title")
        refresh = gr.Button("↻ Refresh", size="sm", scale=0, min_width=90)
    gallery = gr.Gallery(label="Your edits", columns=6, height=150, allow_preview=False, fit_columns=False,
                         object_fit="cover", elem_id="history-gallery", buttons=[])
    table = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True, elem_id="history-table",
                         max_height=320,
                         # Fixed widths, each wide enough for its header word and the cell menu: on a
                         # phone the table scrolls sideways instead of squeezing "Engine" to "Eng".
                         column_widths=["110px", "180px", "96px", "430px", "300px", "96px"])
    with gr.Row(equal_height=True):
        compare_a = gr.Dropdown(label="Compare result A", choices=[], scale=2, elem_id="compare-a")
        compare_b = gr.Dropdown(label="with result B", choices=[], scale=2, elem_id="compare-b")
        compare = gr.Button("Compare", scale=1)
    with gr.Row(equal_height=True):
        request_id = gr.Textbox(label="Resume a fal job by request id", scale=3, elem_id="history-request-id",
                                placeholder="e.g. 764cabcf-b745-4b3e-ae38-1200304cf45b")
        resume = gr.Button("Resume", scale=1)
    return HistoryHandles(gallery, table, gr.State([]), gr.State([]), refresh, compare_a, compare_b, compare,
                          request_id, resume)


def listing(jobs: list[Job]):
    """Values for (gallery, table, job ids, gallery ids, compare A, compare B) from the owner's jobs."""
    rows = [[_when(j.created_at), status_text(j), engine_text(j), _short(j.request.get("prompt", ""), 90),
             j.request_id or "", j.id[:8]] for j in jobs]
    with_thumbs = [(j, t) for j in jobs if (t := thumbnail(j)) is not None]
    thumbs = [(str(t), f"{status_text(j)} · {_short(j.request.get('prompt', ''), 40)}")
              for j, t in with_thumbs]
    done = [(f"{_when(j.created_at)} · {j.id[:8]} · {_short(j.request.get('prompt', ''), 40)}", j.id)
            for j in jobs if j.status == "succeeded" and not j.expired and j.output_video]
    table = {"headers": COLUMNS, "data": rows or [[""] * len(COLUMNS)]}
    return (thumbs, table, [j.id for j in jobs], [j.id for j, _ in with_thumbs],
            gr.Dropdown(choices=done, value=None), gr.Dropdown(choices=done, value=None))


def engine_text(job: Job) -> str:
    """The engine and, for fal, the tier it ran on: "fal · Kling O1 Standard"."""
    if job.engine != "fal":
        return job.engine
    tier = Settings().tier(job.edit_request().model)  # tier names do not depend on the environment
    return f"fal · {tier.name if tier else job.edit_request().model}"


def status_text(job: Job) -> str:
    word = STATUS_WORDS.get(job.status, job.status)
    if job.expired:
        return f"{word}; {job.expired_reason or 'output removed (retention)'}"
    if job.status == "failed" and job.error:
        return f"{word}: {_short(job.error, 80)}"
    return word


def thumbnail(job: Job) -> Path | None:
    """A small frame of the result (or of the input while there is none), cached in the job's folder."""
    source = job.output_video if job.output_video and Path(job.output_video).exists() else None
    if source is None:
        video = Path(job.request.get("video", ""))
        source = video if video.is_file() else None
    if source is None:
        return None
    thumb = Path(source).parent / f"{Path(source).stem}.thumb.jpg"
    if not thumb.exists():
        try:
            run(["-loglevel", "error", "-y", "-ss", "0.5", "-i", str(source), "-frames:v", "1",
                 "-vf", "scale=240:-2", str(thumb)], file=Path(source), action="make a thumbnail of")
        except MediaError:
            return None
    return thumb if thumb.exists() else None


def _when(ts: float) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts))


def _short(text: str, n: int) -> str:
    """``text`` in at most ``n`` characters, cut at a word boundary: a word cut in half reads as a typo."""
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    head = text[: n - 1]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(",;:") + "…"
