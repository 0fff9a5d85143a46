"""The one way an edit starts, shared by the page and the API: parse, check, choose, limit, submit.

Everything a client sends is untrusted here: every file it names goes through ``TrustedFiles``
(only what gradio received as an upload, or what this server made, may be opened), the pre-flight
runs before any engine is chosen, and the server key is spent only through ``ServerKeyGuard``.
Both callers read the same sentences, and both go through the JobRunner, so an API edit is as
durable as a page edit.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from components.checks import ensure_ok, preflight_files
from components.config import MODEL_ID, Settings
from components.engines.select import EngineChoice, build_engine, choose_engine
from components.errors import InputError
from components.intent import SubmissionGuard, fingerprint
from components.jobs.models import IN_FLIGHT_STATUSES, Job
from components.jobs.runner import JobRunner
from components.media.probe import probe
from components.ratelimit import SessionLimiter
from components.request import EditRequest, Element
from components.request_id import check_request_id
from components.secret import Secret
from components.spend import Caller, ServerKeyGuard
from components.trusted_files import TrustedFiles


class EditService:
    def __init__(self, settings: Settings, runner: JobRunner, files: TrustedFiles, guard: ServerKeyGuard,
                 limiter: SessionLimiter, intents: SubmissionGuard | None = None) -> None:
        self.settings = settings
        self.runner = runner
        self.files = files
        self.guard = guard
        self.limiter = limiter
        self.intents = intents or SubmissionGuard()  # one job per intent (components/intent.py)

    def make_request(self, video: Any, prompt: Any, images: Any, elements: Any, keep_audio: Any,
                     model: Any = None) -> EditRequest:
        """An EditRequest from client values; every path must be an upload (or a file we made)."""
        if video is None or video == "":
            raise InputError("No clip is attached.",
                             fix="Upload an .mp4/.mov of 3-10.05 s or paste its link.", field="video")
        if prompt is not None and not isinstance(prompt, str):
            raise InputError("The prompt must be text.", fix="Send the instruction as a string.",
                             field="prompt")
        return EditRequest(
            prompt=prompt or "", video=self.files.require(video, "The clip", "video"),
            images=tuple(self.files.require_all(images, "Reference image", "images")),
            elements=tuple(self._element(e, i) for i, e in enumerate(_as_list(elements, "elements"),
                                                                     start=1)),
            keep_audio=keep_audio is True or keep_audio == "true",
            # The tier as the client sent it (None: the default); the pre-flight refuses an unknown one.
            model=(model.strip() if isinstance(model, str) else "") or MODEL_ID)

    def start(self, caller: Caller, user_key: Secret | None, request: EditRequest) -> Job:
        """Validate everything, then hand the edit to the runner; raises InputError/RateLimitError
        (DuplicateSubmission when the same owner sent this very edit moments ago and it is starting)."""
        ensure_ok(preflight_files(request, self.settings))
        choice = choose_engine(self.settings, user_key, may_use_server_key=self.guard.may_use(caller))
        intent = fingerprint(request)

        def still_running(job_id: str) -> bool:
            job = self.runner.snapshot(job_id, caller.owner)
            return job is not None and job.status in IN_FLIGHT_STATUSES

        self.intents.claim(caller.owner, intent, still_running)
        try:
            job = self._submit(caller, choice, request)
        except BaseException:
            self.intents.release(caller.owner, intent)
            raise
        self.intents.started(caller.owner, intent, job.id)
        return job

    def _submit(self, caller: Caller, choice: EngineChoice, request: EditRequest) -> Job:
        in_flight = sum(job.status in IN_FLIGHT_STATUSES for job in self.runner.history(caller.owner))
        self.limiter.acquire(caller.owner, in_flight)
        engine = build_engine(choice, self.settings)
        if choice.key_source != "server":
            return self.runner.submit(caller.owner, request, engine, choice.key_source)
        cost = self.settings.cost(_seconds(request), request.model)
        billed = replace(request, extra={**request.extra, "billed_usd": cost})
        with self.guard.lock:  # the budget check and the job row that counts against it, as one step
            self.guard.admit(caller, cost)
            return self.runner.submit(caller.owner, billed, engine, "server")

    def resume(self, caller: Caller, user_key: Secret | None, request_id: Any) -> Job:
        """Reattach to a fal request: any id with the user's own key, only the caller's own
        requests with the server's key (it must not fetch strangers' results on the owner's bill)."""
        rid = check_request_id(request_id if isinstance(request_id, str) else None)
        choice = choose_engine(self.settings, user_key, may_use_server_key=self.guard.may_use(caller))
        if choice.name != "fal":
            raise InputError("Resuming a fal job needs a fal key.",
                             fix="Enter your fal key above (or run the app with FAL_KEY set).",
                             field="request_id")
        if choice.key_source == "server" and self.runner.store.find_by_request_id(caller.owner, rid) is None:
            raise InputError("That request id is not one of your edits on this server, so its key "
                             "will not fetch it.", fix="Enter the fal key it was made with, then resume.",
                             field="request_id")
        return self.runner.resume_by_request_id(caller.owner, rid, build_engine(choice, self.settings),
                                                choice.key_source)

    def _element(self, value: Any, index: int) -> Element:
        if not isinstance(value, dict):
            raise InputError(f"Element {index} must be an object with a frontal image and references.",
                             fix='Send {"frontal": file, "references": [files]}.',
                             field=f"elements[{index - 1}]")
        field = f"elements[{index - 1}]"
        front = self.files.optional(value.get("frontal"), f"Element {index}'s frontal image",
                                    f"{field}.frontal")
        refs = self.files.require_all(_as_list(value.get("references"), f"{field}.references"),
                                      f"Element {index}'s reference image", f"{field}.references")
        return Element(frontal=front, references=tuple(refs))


def _as_list(value: Any, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{field} must be a list.", fix="Send a list (it may be empty).", field=field)
    return list(value)


def _seconds(request: EditRequest) -> float:
    """What fal bills: the clip's length (the pre-flight has just read the same file)."""
    return probe(request.video).duration
