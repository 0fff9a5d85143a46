"""The ``/edit`` API endpoint (gr.api): the same edit as the page, for gradio_client and MCP.

It runs the page's pre-flight (so a bad input fails with the very sentence the page shows) and
goes through the JobRunner (so an API edit is recorded, survives a dropped connection and shows
in history for its session).
"""

# No ``from __future__ import annotations`` here: gr.api reads the return annotation through
# inspect.signature, which would see a string and publish one untyped output instead of three.
import asyncio
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

from components.config import MODEL_ID, Settings
from components.errors import EngineError, JobCancelled
from components.jobs.runner import JobRunner
from components.ratelimit import SessionLimiter
from components.ui.errors import shows_errors
from components.ui.session import api_owner, key_from_text
from components.ui.submit import make_request, start_edit

API_NAME = "edit"


def build(settings: Settings, runner: JobRunner, limiter: SessionLimiter) -> None:
    async def edit(video: FileData, prompt: str, images: list[FileData] | None = None,
                   elements: list[dict] | None = None, keep_audio: bool = False, fal_key: str = "",
                   model: str = MODEL_ID, request: gr.Request = None) -> tuple[FileData, FileData, dict]:  # type: ignore[assignment]
        """Edit a 3-10 s clip with Kling O1 (or the local preview when no fal key is available).

        Args:
            video: the clip to edit (.mp4/.mov, 3-10.05 s, 720-2160 px each side, 24-60 fps, <= 200 MB).
            prompt: the instruction; refer to attachments as @Image1.. and @Element1..
            images: reference images, @Image1 first.
            elements: each {"frontal": image file, "references": [1-4 image files]}, @Element1 first.
            keep_audio: keep the clip's original sound track.
            fal_key: your own fal key (optional; never stored).
            model: fal endpoint id: Kling O1 (default) or "fal-ai/kling-video/o1/standard/video-to-video/edit"
        Returns:
            the edited clip, the original | edited side-by-side mp4, and details
            {engine, request_id, notes, timings, job_id}.
        """
        return await _edit(settings, runner, limiter, video, prompt, images or [], elements or [],
                           keep_audio, fal_key, api_owner(request), model)

    gr.api(shows_errors(edit), api_name=API_NAME, concurrency_limit=256, concurrency_id="watch")


def publish_only_edit(demo: gr.Blocks) -> None:
    """Keep the page's own events (label insertion, previews, history) out of the API page and the
    MCP tool list: they are wiring, not a contract, and an agent offered forty of them would not
    find ``edit``. gradio has no Blocks-wide default for this, so it is set on each event once the
    page is built; the browser still calls them as before."""
    for fn in demo.fns.values():
        if fn.api_name != API_NAME:
            fn.api_visibility = "private"


async def _edit(settings: Settings, runner: JobRunner, limiter: SessionLimiter, video: Any, prompt: str,
                images: list, elements: list[dict], keep_audio: bool, fal_key: str,
                owner: str, model: str | None = None) -> tuple[FileData, FileData, dict]:
    request = make_request(_path(video), prompt,
                           [_path(i) for i in images],
                           [{"frontal": _path(e.get("frontal")),
                             "references": [_path(r) for r in e.get("references") or []]} for e in elements],
                           keep_audio, model)
    job = await asyncio.to_thread(start_edit, runner, limiter, settings, owner, key_from_text(fal_key),
                                  request)
    async for snapshot in runner.watch(job.id, owner):
        job = snapshot
    if job.status == "cancelled":
        raise JobCancelled("The edit was cancelled.")
    if job.status != "succeeded" or job.output_video is None:
        raise EngineError(job.error or job.message or f"The edit ended as {job.status}.",
                          request_id=job.request_id)
    details = {"engine": job.engine, "request_id": job.request_id, "notes": list(job.notes),
               "timings": dict(job.timings), "job_id": job.id, "model": job.edit_request().model}
    side = job.side_by_side or job.output_video
    return (FileData(path=str(job.output_video), orig_name="edited.mp4"),
            FileData(path=str(side), orig_name="side_by_side.mp4"), details)


def _path(file: Any) -> str | None:
    """A file as gr.api hands it over: FileData, its dict form, or a plain path."""
    if file is None:
        return None
    if isinstance(file, FileData):
        return file.path
    if isinstance(file, dict):
        return file.get("path")
    return str(file)
