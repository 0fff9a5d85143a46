"""The interface both engines implement; the UI, the API and the job runner only talk to this.

Engines are async because fal work is remote waiting; the local engine runs its CPU work in a
thread and still answers through the same coroutine. Progress goes to a plain callback so the job
runner can persist and fan it out to any number of watching browser tabs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from components.edit.request import EditRequest
from components.errors import JobCancelled

# Whose fal key runs a job: a user's own (never stored) or the server's. None for the local engine.
KeySource = Literal["user", "server"]

Phase = Literal["preparing", "uploading", "submitted", "queued", "running", "downloading",
                "rendering", "done"]


@dataclass(frozen=True)
class ProgressEvent:
    phase: Phase
    message: str  # one human line: "Uploading 12.4 / 50.0 MB", "Queued at position 3"
    fraction: float | None = None  # 0..1 progress of the whole edit when known
    bytes_done: int | None = None
    bytes_total: int | None = None
    queue_position: int | None = None
    logs: tuple[str, ...] = ()  # log lines that are new since the previous event
    request_id: str | None = None  # set from "submitted" on: the job store persists it at once
    elapsed: float = 0.0  # seconds since the edit started


ProgressCallback = Callable[[ProgressEvent], None]


class CancelToken:
    """Thread-safe cancel flag: set from a UI handler, read by an engine's loop or worker thread.

    The one way a job is asked to stop. Code that waits rather than polls (the job runner waiting
    for an engine slot) registers ``on_cancel`` to be woken instead of being cancelled some other way.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once when the token fires (at once if it already has), on the thread
        that cancels: it must be quick and thread-safe, e.g. ``loop.call_soon_threadsafe``."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled("The edit was cancelled.")


@dataclass
class EditResult:
    video: Path  # the edited clip, a local mp4 in the job's folder
    engine: str  # Engine.name
    request_id: str | None = None  # fal's request id; None for the local engine
    remote_url: str | None = None  # where fal serves the result
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    notes: list[str] = field(default_factory=list)  # applied / could not be done / warnings
    arguments: dict[str, Any] | None = None  # the exact fal arguments sent (for "copy as code")


class Engine(Protocol):
    """What the UI, the API and the job runner may rely on, and nothing else.

    The runner schedules by ``concurrency_key`` (each key is its own pool of slots, sized by
    config: fal jobs are remote waits, local renders are CPU work) and reattaches to a request by
    id through ``resume`` when ``can_resume`` says the engine has remote requests at all.
    """

    name: str  # "fal" | "local"
    concurrency_key: str  # which slot pool a job waits for: "fal" | "local" (components.config sizes them)
    can_resume: bool  # whether ``resume`` can reattach to a request by id (a remote engine)

    def check(self, request: EditRequest) -> None:
        """Raise ``InputError`` now for an edit this engine would refuse anyway: the service asks
        before anything is staged, so a refused edit writes no file. Cheap: no file is read."""
        ...

    async def edit(self, request: EditRequest, workdir: Path, on_event: ProgressCallback,
                   cancel: CancelToken) -> EditResult:
        """Run one edit; write outputs under ``workdir``.

        Raises ``JobCancelled`` when ``cancel`` fires, ``StudioError`` subclasses with the user's
        sentence on failure, never bare library exceptions.
        """
        ...

    async def resume(self, request_id: str, workdir: Path, on_event: ProgressCallback,
                     cancel: CancelToken) -> EditResult:
        """Follow an earlier request by id to its result (after a restart, or by a user's paste),
        with ``edit``'s contract. Only called when ``can_resume``."""
        ...
