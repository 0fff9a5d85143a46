"""This browser's edits: a list with thumbnails, restore one, compare two, resume by request id.

Everything comes from the job store filtered by the owner id, so history survives refreshes and
restarts, and one browser never sees another's jobs. The gallery's stills are signed links of the
studio's own route (absolute: gr.Gallery reads anything else as a server path and would copy it
into gradio's cache, served to anyone).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.config import Settings
from components.jobs.family import PART_NOUN, part_count
from components.jobs.models import Job
from components.media.thumbnail import existing_thumbnail
from components.ui.links import job_file_url
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
    settings: Settings  # where the stills are linked from

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.gallery, self.table, self.job_ids, self.gallery_ids, self.compare_a, self.compare_b]

    def show(self, jobs: list[Job]) -> dict:
        """Named updates listing the owner's ``jobs``: gallery, table, both compare pickers."""
        rows = [[_when(j.created_at), status_text(j), engine_text(j),
                 short_text(j.request.get("prompt", ""), 90), j.request_id or "", j.id[:8]] for j in jobs]
        still = job_file_url(self.settings, jobs[0].owner) if jobs else None  # one owner's jobs
        with_thumbs = [(j, url) for j in jobs if still
                       and (url := still(thumbnail(j))) is not None and url.startswith(("http://", "https://"))]
        # Numbered like the edits themselves (#1 is the first), so two runs of one prompt in the same
        # minute still read differently, by what a person tells them apart with.
        done = [(f"#{len(jobs) - i} · {_when(j.created_at)} · {engine_text(j)} · "
                 f"{short_text(j.request.get('prompt', ''), 40)}", j.id)
                for i, j in enumerate(jobs) if j.status == "succeeded" and not j.expired and j.output_video]
        return {
            self.gallery: [(url, f"{status_text(j)} · {short_text(j.request.get('prompt', ''), 40)}")
                           for j, url in with_thumbs],
            self.table: {"headers": COLUMNS, "data": rows or [[""] * len(COLUMNS)]},
            self.job_ids: [j.id for j in jobs],
            self.gallery_ids: [j.id for j, _ in with_thumbs],
            self.compare_a: gr.Dropdown(choices=done, value=None),
            self.compare_b: gr.Dropdown(choices=done, value=None),
        }


def build(settings: Settings) -> HistoryHandles:
    with gr.Row():
        gr.Markdown("### History", elem_classes="section-title")
        refresh = gr.Button("↻ Refresh", size="sm", scale=0, min_width=90)
    # No label badge: it would sit on the first thumbnail (the section's title says what these are).
    gallery = gr.Gallery(label="Your edits", show_label=False, columns=6, height=150, allow_preview=False,
                         fit_columns=False, object_fit="cover", elem_id="history-gallery", buttons=[])
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
                          request_id, resume, settings)


def engine_text(job: Job) -> str:
    """The engine and, for fal, the tier it ran on: "fal · Kling O1 Standard"; the local preview runs
    no tier (the one picked is only what a fal key would use)."""
    if job.engine != "fal":
        return "local preview"
    tier = Settings().tier(job.edit_request().model)  # tier names do not depend on the environment
    return f"fal · {tier.name if tier else job.edit_request().model}"


def status_text(job: Job) -> str:
    word = STATUS_WORDS.get(job.status, job.status)
    if job.is_parent:  # "done · 4 segments", "done · 3 takes"
        word = f"{word} · {part_count(job)} {PART_NOUN[job.kind]}s"
    if job.expired:
        return f"{word}; {job.expired_reason or 'output removed (retention)'}"
    if job.status == "failed" and job.error:
        return f"{word}: {short_text(job.error, 80)}"
    if job.motion_fidelity is not None:
        return f"{word} · motion {job.motion_fidelity:.2f}"
    return word


def thumbnail(job: Job) -> Path | None:
    """The runner's still of the result, or of the input while there is none (never made here)."""
    output = Path(job.output_video) if job.output_video else None
    video = Path(job.request.get("video") or "") if job.request.get("video") else None
    return existing_thumbnail(output) or existing_thumbnail(video)


def _when(ts: float) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts))


def short_text(text: str, n: int) -> str:
    """``text`` in at most ``n`` characters, cut at a word boundary: a word cut in half reads as a typo."""
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    head = text[: n - 1]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(",;:") + "…"
