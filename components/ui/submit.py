"""The one way an edit starts, shared by the page and the API: check, choose, limit, submit.

Both paths run the same pre-flight, so gradio_client users read the very sentence the page shows,
and both go through the JobRunner, so an API edit is as durable as a page edit.
"""

from __future__ import annotations

from pathlib import Path

from components.checks import ensure_ok, preflight_files
from components.config import Settings
from components.engines.select import build_engine, choose_engine
from components.errors import InputError
from components.intent import GUARD, SubmissionGuard, fingerprint
from components.jobs.models import Job
from components.jobs.runner import JobRunner
from components.ratelimit import SessionLimiter
from components.request import EditRequest, Element
from components.secret import Secret

IN_FLIGHT = ("queued", "running")


def make_request(video: str | Path | None, prompt: str, images: list, elements: list[dict],
                 keep_audio: bool) -> EditRequest:
    """An EditRequest from the UI's lists (paths as strings, elements as dicts)."""
    if not video:
        raise InputError("No clip is attached.", fix="Upload an .mp4/.mov of 3-10 s or paste its link.",
                         field="video")
    return EditRequest(
        prompt=prompt or "", video=Path(video), images=tuple(Path(p) for p in images),
        elements=tuple(Element(frontal=Path(e["frontal"]) if e.get("frontal") else None,
                               references=tuple(Path(r) for r in e.get("references") or ()))
                       for e in elements),
        keep_audio=bool(keep_audio))


def start_edit(runner: JobRunner, limiter: SessionLimiter, settings: Settings, owner: str,
               user_key: Secret | None, request: EditRequest, guard: SubmissionGuard = GUARD) -> Job:
    """Validate everything, then hand the edit to the runner; raises InputError/RateLimitError
    (DuplicateSubmission when the same owner sent this very edit moments ago and it is starting)."""
    ensure_ok(preflight_files(request, settings))
    choice = choose_engine(settings, user_key)
    key = fingerprint(request)

    def still_running(job_id: str) -> bool:
        job = runner.snapshot(job_id, owner)
        return job is not None and job.status in IN_FLIGHT

    guard.claim(owner, key, still_running)
    try:
        in_flight = sum(job.status in IN_FLIGHT for job in runner.history(owner))
        limiter.acquire(owner, in_flight)
        job = runner.submit(owner, request, build_engine(choice, settings), choice.key_source)
    except BaseException:
        guard.release(owner, key)
        raise
    guard.started(owner, key, job.id)
    return job
