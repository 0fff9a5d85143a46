"""The job record: one edit as history, recovery and every watching tab see it.

A ``Job`` is an immutable snapshot: the runner thread publishes a new one on every change and any
number of readers (gradio handlers on another loop, the store, tests) hold theirs without locks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from components.edit.request import EditRequest
from components.engines.base import KeySource

# The one job-status vocabulary: the store, the runner, the UI and the API all import these.
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "waiting_for_key"]
# A job is one edit, or a parent that owns child edits: the segments of a long clip (joined into
# one result) or several takes of the same edit (one of them chosen). Children are plain "edit"s.
JobKind = Literal["edit", "segments", "takes"]

FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
# What recovery looks at after a restart; also what retention never touches.
UNFINISHED_STATUSES: tuple[str, ...] = ("queued", "running", "waiting_for_key")
# Holding (or waiting for) an engine slot in this process: what the per-session job limit counts.
# A job waiting for a key is parked, not in flight.
IN_FLIGHT_STATUSES: tuple[str, ...] = ("queued", "running")
MAX_LOG_LINES = 200


@dataclass(frozen=True)
class Job:
    id: str  # uuid4 hex
    owner: str  # opaque per-browser id, never the fal key
    engine: str  # Engine.name: "fal" | "local"
    key_source: KeySource | None  # whose fal key runs it; None for the local engine
    status: JobStatus
    request: dict[str, Any]  # EditRequest.to_dict(), paths pointing at the copies in the job folder
    created_at: float  # epoch seconds, like every timestamp here
    updated_at: float
    phase: str | None = None  # the last ProgressEvent's phase
    message: str = ""  # the last human line shown for this job
    fraction: float | None = None
    arguments: dict[str, Any] | None = None  # the exact fal arguments sent, for "copy as code"
    request_id: str | None = None  # fal's id: what a resume after a restart needs
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    error: str | None = None  # the user's sentence when status is failed
    output_video: Path | None = None  # the edited clip
    side_by_side: Path | None = None  # original | edited, one mp4
    remote_url: str | None = None
    logs: tuple[str, ...] = ()  # the last MAX_LOG_LINES lines
    started_at: float | None = None  # when an engine slot was taken
    finished_at: float | None = None
    expired: bool = False  # retention removed its files; the record stays for history
    expired_reason: str | None = None
    kind: JobKind = "edit"
    parent_id: str | None = None  # set on a child edit: the parent job that owns it
    part: int | None = None  # a child's place in its parent: segment index or take index, from 0
    chosen: int | None = None  # a takes parent: the take its result shows
    # How much of the original's motion the result kept, 0-1 (media/motion.py); None until measured,
    # or when it cannot be (a note says so).
    motion_fidelity: float | None = None

    @property
    def is_parent(self) -> bool:
        return self.kind != "edit"

    @property
    def is_finished(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_at_rest(self) -> bool:
        """Finished, or parked until its owner gives a key: nothing changes on its own, so a page
        that follows it has everything it will see."""
        return self.is_finished or self.status == "waiting_for_key"

    @property
    def is_stub(self) -> bool:
        """A job reattached by request id that this studio never saw submitted: no original clip."""
        return bool(self.request.get("extra", {}).get("stub"))

    def edit_request(self) -> EditRequest:
        return EditRequest.from_dict(self.request)

    def elapsed(self, now: float | None = None) -> float:
        """Seconds the job has taken so far (or took), counted from submission so queue waits show."""
        end = self.finished_at if self.finished_at is not None else (time.time() if now is None else now)
        return max(0.0, end - self.created_at)
