"""What a finished job shows: the comparison (with both downloads in its bar), copy-as-code and the
details.

One function turns a Job into every result value, so Generate, a reattached tab, a history pick
and the API all present the same thing. Every file is reached through a signed link of the
studio's own route, made for the job's owner (components/share/files.py), never through gr.File,
which would copy the file into gradio's cache and serve it to anyone by path.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.config import Settings
from components.edit.codegen import as_curl, as_python, placeholder_arguments
from components.jobs.models import Job
from components.ui import comparison
from components.ui.links import job_file_url
from components.units import human_duration


@dataclass(frozen=True)
class ResultHandles:
    player: comparison.ComparisonPlayer
    python_code: gr.Code
    curl_code: gr.Code
    details: gr.HTML
    shown: gr.State  # the id of the job presented here (None when empty): what "Share link" shares

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.player, self.python_code, self.curl_code, self.details, self.shown]

    def show(self, job: Job, settings: Settings) -> dict:
        """Named updates presenting ``job`` (empty values while it has no result)."""
        return dict(zip(self.outputs, [*_values(job, settings), job.id], strict=True))

    def clear(self) -> dict:
        return {self.player: None, self.python_code: "", self.curl_code: "", self.details: "",
                self.shown: None}


def build() -> ResultHandles:
    # The downloads are the player's own links (its bar): no second pair of file boxes.
    player = comparison.build("Original vs edited", elem_id="result-player")
    details = gr.HTML("", elem_id="result-details", padding=False)
    with gr.Accordion("Copy as code: the exact fal request", open=False, elem_id="copy-as-code"):
        python_code = gr.Code(language="python", label="Python (fal_client)", interactive=False,
                              elem_id="code-python")
        curl_code = gr.Code(language="shell", label="curl", interactive=False, elem_id="code-curl")
    return ResultHandles(player, python_code, curl_code, details, gr.State(None))


def _values(job: Job, settings: Settings) -> list:
    """Result values for ``job``, in ``ResultHandles.outputs`` order up to ``shown``; empty ones while
    it has none."""
    request = job.edit_request()
    arguments = job.arguments or (None if job.is_stub else placeholder_arguments(request))
    tier = settings.tier(request.model)
    name = tier.name if tier else None
    code = ((as_python(arguments, request.model, name), as_curl(arguments, request.model, name))
            if arguments else ("", ""))
    output = job.output_video if job.output_video and Path(job.output_video).exists() else None
    sbs = job.side_by_side if job.side_by_side and Path(job.side_by_side).exists() else None
    original = request.video if request.video.is_file() else None
    url = job_file_url(settings, job.owner)
    player = comparison.player_value(original or output, output, sbs, url=url) if output else None
    return [player, *code, details_html(job, settings)]


# What each timed step is called on the page (the engines and the runner name them in code).
TIMING_NAMES = {"upload": "upload", "queue": "wait at fal", "run": "edit at fal", "download": "download",
                "preparing": "reading the instruction", "rendering": "local render",
                "join": "joining the segments", "side_by_side": "side-by-side mp4"}


def engine_label(job: Job, settings: Settings) -> str:
    """Who made the result, as history and the details say it: "Kling O1 Standard via fal", or the
    local preview (which runs no tier: the one picked is only what a fal key would use)."""
    if job.engine != "fal":
        return "local preview (free, on the studio's machine)"
    model = job.edit_request().model
    tier = settings.tier(model)
    return f"{tier.name if tier else model} via fal"


def details_html(job: Job, settings: Settings | None = None) -> str:
    rows = [("Engine", engine_label(job, settings or Settings())), ("Status", job.status)]
    if job.request_id:
        rows.append(("fal request id", job.request_id))
    if job.motion_fidelity is not None:
        rows.append(("Motion kept", motion_text(job.motion_fidelity)))
    if job.timings:
        rows.append(("Timings", ", ".join(f"{TIMING_NAMES.get(k, k.replace('_', ' '))} {human_duration(v)}"
                                          for k, v in job.timings.items())))
    if job.error:
        rows.append(("Error", job.error))
    if job.expired:
        rows.append(("Files", job.expired_reason or "removed by retention"))
    items = "".join(f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd></div>" for k, v in rows)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in job.notes)
    notes = f'<ul class="result-notes">{notes}</ul>' if notes else ""
    return f'<div class="result-details" data-job="{job.id}"><dl>{items}</dl>{notes}</div>'


def motion_text(score: float) -> str:
    """The motion score with the one line on what it measures."""
    return (f"{score:.2f} (1 = the original's movement exactly: points tracked through both clips "
            "move the same way)")
