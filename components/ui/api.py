"""The ``/edit`` API endpoint (gr.api): the same edit as the page, for gradio_client and MCP.

It runs the page's pre-flight (so a bad input fails with the very sentence the page shows) and
goes through the edit service and its runner (so an API edit is recorded, survives a dropped
connection and shows in history for its session).
"""

# No ``from __future__ import annotations`` here: gr.api reads the return annotation through
# inspect.signature, which would see a string and publish one untyped output instead of three.
import asyncio

import gradio as gr
from gradio.data_classes import FileData

from components.admission.spend import Caller
from components.config import MODEL_ID
from components.edit.modes import parse_mode
from components.errors import EngineError, JobCancelled
from components.secret import parse_user_key
from components.ui.deps import Deps
from components.ui.errors import shows_errors
from components.ui.links import job_file_url
from components.ui.session import address_of, api_owner

API_NAME = "edit"


def build(deps: Deps) -> None:
    async def edit(video: FileData, prompt: str, images: list[FileData] | None = None,
                   elements: list[dict] | None = None, keep_audio: bool = False, fal_key: str = "",
                   model: str = MODEL_ID, takes: int = 1, segments: bool = False, overlap: float = 0.0,
                   request: gr.Request = None) -> tuple[FileData, FileData, dict]:  # type: ignore[assignment]
        """Edit a 3-10.05 s clip with Kling O1 (or the local preview when no fal key is available);
        a longer clip (up to STUDIO_MAX_SOURCE_SECONDS) in segments, or one clip as several takes.

        Args:
            video: the clip to edit (.mp4/.mov, 3-10.05 s, 720-2160 px each side, 24-60 fps, <= 200 MB).
            prompt: the instruction; refer to attachments as @Image1.. and @Element1..
            images: reference images, @Image1 first.
            elements: each {"frontal": image file, "references": [1-4 image files]}, @Element1 first.
            keep_audio: keep the clip's original sound track.
            fal_key: your own fal key (optional; never stored).
            model: fal endpoint id: Kling O1 (default) or "fal-ai/kling-video/o1/standard/video-to-video/edit"
            takes: run the edit 1-4 times at once; the lowest-numbered take that succeeded is returned,
                every take is listed in details["parts"] and stays in the session's history.
            segments: edit a clip longer than 10.05 s in segments of 3-10 s (cut at shot changes),
                joined into one clip of the source's length.
            overlap: seconds of crossfade between segments (0-1; billed).
        Returns:
            the edited clip, the original | edited side-by-side mp4, and details
            {engine, request_id, notes, timings, job_id, kind, parts}.
        """
        caller = Caller(api_owner(request), address_of(request, deps.settings))
        # Every file must be one gradio received from this caller (handle_file); a bare server
        # path is refused inside make_request, before anything is read.
        edit_request = deps.service.make_request(video, prompt, images, elements, keep_audio, model)
        key = parse_user_key(fal_key if isinstance(fal_key, str) else None)
        mode = parse_mode(takes, segments, overlap, deps.settings)
        job = await asyncio.to_thread(deps.service.start, caller, key, edit_request, mode)
        async for snapshot in deps.service.watch(caller.owner, job.id):
            job = snapshot
        if job.status == "cancelled":
            raise JobCancelled("The edit was cancelled.")
        if job.status != "succeeded" or job.output_video is None:
            raise EngineError(job.error or job.message or f"The edit ended as {job.status}.",
                              request_id=job.request_id)
        parts = [{"part": p.part, "status": p.status, "request_id": p.request_id, "job_id": p.id,
                  "error": p.error} for p in deps.service.parts(caller.owner, job)]
        details = {"engine": job.engine, "request_id": job.request_id, "notes": list(job.notes),
                   "timings": dict(job.timings), "job_id": job.id, "model": job.edit_request().model,
                   "kind": job.kind, "parts": parts}
        # Each file as an absolute signed link of the studio's own route, made for this caller: gradio
        # leaves a FileData with an http URL alone (no copy into its cache, served to anyone by path).
        # gradio_client fetches a FileData from its URL only when it is marked a stream (else it asks
        # gradio's file route for its path), so it is marked one: the URL is a plain, whole file.
        url = job_file_url(deps.settings, caller.owner)
        edited, side = url(job.output_video), url(job.side_by_side or job.output_video)
        return (FileData(path=edited, url=edited, orig_name="edited.mp4", is_stream=True),
                FileData(path=side, url=side, orig_name="side_by_side.mp4", is_stream=True), details)

    # /edit waits for its job (gradio_client expects the result), so it holds a queue worker: its
    # own concurrency id caps how many, and app.py gives gradio that many workers more than its
    # default 40, so API callers never take the workers page events need.
    gr.api(shows_errors(edit), api_name=API_NAME, concurrency_limit=deps.settings.api_concurrency,
           concurrency_id=API_NAME)


def publish_only_edit(demo: gr.Blocks) -> None:
    """Keep the page's own events (label insertion, previews, history) out of the API page and the
    MCP tool list: they are wiring, not a contract, and an agent offered forty of them would not
    find ``edit``. gradio has no Blocks-wide default for this, so it is set on each event once the
    page is built; the browser still calls them as before."""
    for fn in demo.fns.values():
        if fn.api_name != API_NAME:
            fn.api_visibility = "private"
