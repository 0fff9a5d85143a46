"""What a finished job shows: the comparison, both downloads, copy-as-code and the details.

One function turns a Job into every result value, so Generate, a reattached tab, a history pick
and the API all present the same thing. Every file is reached through a signed link of the
studio's own route, made for the job's owner (components/share/files.py): the downloads are plain
links, not gr.File, which would copy the file into gradio's cache and serve it to anyone by path.
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
    edited: gr.HTML  # the download link of the edited clip ("" while there is none)
    side_by_side: gr.HTML  # and of the side-by-side mp4
    python_code: gr.Code
    curl_code: gr.Code
    details: gr.HTML
    shown: gr.State  # the id of the job presented here (None when empty): what "Share link" shares

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.player, self.edited, self.side_by_side, self.python_code, self.curl_code, self.details,
                self.shown]

    def show(self, job: Job, settings: Settings) -> dict:
        """Named updates presenting ``job`` (empty values while it has no result)."""
        return dict(zip(self.outputs, [*_values(job, settings), job.id], strict=True))

    def clear(self) -> dict:
        return {self.player: None, self.edited: "", self.side_by_side: "", self.python_code: "",
                self.curl_code: "", self.details: "", self.shown: None}


def build() -> ResultHandles:
    player = comparison.build("Original vs edited", elem_id="result-player")
    with gr.Row():
        edited = gr.HTML("", elem_id="download-edited", padding=False)
        side_by_side = gr.HTML("", elem_id="download-sbs", padding=False)
    details = gr.HTML("", elem_id="result-details", padding=False)
    with gr.Accordion("Copy as code: the exact fal request", open=False, elem_id="copy-as-code"):
        python_code = gr.Code(language="python", label="Python (fal_client)", interactive=False,
                              elem_id="code-python")
        curl_code = gr.Code(language="shell", label="curl", interactive=False, elem_id="code-curl")
    return ResultHandles(player, edited, side_by_side, python_code, curl_code, details, gr.State(None))


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
    return [player, download_link(url(output), output, "Edited clip"),
            download_link(url(sbs), sbs, "Side-by-side mp4"), *code, details_html(job, settings)]


def download_link(url: str | None, path: Path | str | None, label: str) -> str:
    """A download link to ``path`` (saved under its own name), or "" when there is nothing to get."""
    if not url or not path:
        return ""
    name = html.escape(Path(path).name)
    return (f'<a class="result-download" href="{html.escape(url)}" download="{name}">⤓ {html.escape(label)}'
            f" <small>{name}</small></a>")


def model_label(job: Job, settings: Settings) -> str:
    """The tier a job ran on, as history and the details show it ("Kling O1 Standard"); a local
    preview names the tier it was asked for, since that is what a fal re-run would use."""
    model = job.edit_request().model
    tier = settings.tier(model)
    name = tier.name if tier else model
    return name if job.engine == "fal" else f"local preview (chosen: {name})"


def details_html(job: Job, settings: Settings | None = None) -> str:
    rows = [("Engine", job.engine), ("Model", model_label(job, settings or Settings())),
            ("Status", job.status)]
    if job.request_id:
        rows.append(("fal request id", job.request_id))
    if job.timings:
        rows.append(("Timings", ", ".join(f"{k} {human_duration(v)}" for k, v in job.timings.items())))
    if job.error:
        rows.append(("Error", job.error))
    if job.expired:
        rows.append(("Files", job.expired_reason or "removed by retention"))
    items = "".join(f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd></div>" for k, v in rows)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in job.notes)
    notes = f'<ul class="result-notes">{notes}</ul>' if notes else ""
    return f'<div class="result-details" data-job="{job.id}"><dl>{items}</dl>{notes}</div>'
