"""The one way an edit starts, shared by the page and the API: check, choose, limit, submit.

Both paths run the same pre-flight, so gradio_client users read the very sentence the page shows,
and both go through the JobRunner, so an API edit is as durable as a page edit.
"""

from __future__ import annotations

from pathlib import Path

from components.checks import ensure_ok, preflight_files
from components.config import MODEL_ID, Settings
from components.engines.select import build_engine, choose_engine
from components.errors import InputError
from components.jobs.models import Job
from components.jobs.runner import JobRunner
from components.ratelimit import SessionLimiter
from components.request import EditRequest, Element
from components.secret import Secret

IN_FLIGHT = ("queued", "running")


def make_request(video: str | Path | None, prompt: str, images: list, elements: list[dict],
                 keep_audio: bool, model: str | None = None) -> EditRequest:
    """An EditRequest from the UI's lists (paths as strings, elements as dicts). ``model`` is the
    tier's endpoint id as the client sent it (None: the default tier); the pre-flight refuses an
    unknown one with a sentence."""
    if not video:
        raise InputError("No clip is attached.", fix="Upload an .mp4/.mov of 3-10.05 s or paste its link.",
                         field="video")
    return EditRequest(
        prompt=prompt or "", video=Path(video), images=tuple(Path(p) for p in images),
        elements=tuple(Element(frontal=Path(e["frontal"]) if e.get("frontal") else None,
                               references=tuple(Path(r) for r in e.get("references") or ()))
                       for e in elements),
        keep_audio=bool(keep_audio), model=(str(model).strip() if model is not None else "") or MODEL_ID)


def start_edit(runner: JobRunner, limiter: SessionLimiter, settings: Settings, owner: str,
               user_key: Secret | None, request: EditRequest) -> Job:
    """Validate everything, then hand the edit to the runner; raises InputError/RateLimitError."""
    ensure_ok(preflight_files(request, settings))
    choice = choose_engine(settings, user_key)
    in_flight = sum(job.status in IN_FLIGHT for job in runner.history(owner))
    limiter.acquire(owner, in_flight)
    return runner.submit(owner, request, build_engine(choice, settings), choice.key_source)
