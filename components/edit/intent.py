"""One job per intent: the server refuses an identical edit from the same owner while one is starting.

A double-click, a flaky mouse or a retried API call sends the same request twice within moments;
with a key that is two paid runs and two history rows. The page also disables Generate on the
first click, but a client can always send twice, so the server decides: the same owner sending
the same request (prompt, clip, references, audio choice) within ``window_s`` of a previous one
that is still queued or running is refused with a sentence naming that job. A changed prompt, a
different clip or a finished first job all start a new edit as usual.

In memory, like the session limits: a restart forgetting a claim is harmless.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.edit.request import EditRequest
from components.errors import RateLimitError
from components.units import human_duration

DEFAULT_WINDOW_S = 15.0
_SAMPLE_BYTES = 1 << 20  # a file is known by its size and its first and last MiB: cheap for 200 MB


class DuplicateSubmission(RateLimitError):
    """The same edit was just submitted by the same owner and is still starting."""

    def __init__(self, message: str, *, fix: str = "", job_id: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.job_id = job_id  # the job the first submission became; None while it is being handed over


@dataclass
class _Claim:
    at: float
    job_id: str | None = None  # None while the first submission is still being handed to the runner


def fingerprint(request: EditRequest) -> str:
    """What makes two submissions the same edit: the words (whitespace aside), the audio choice,
    the tier, and each file by content in its role, so a re-upload of the same clip counts as the same."""
    digest = hashlib.sha256()
    digest.update(" ".join(request.prompt.split()).encode())
    digest.update(b"audio=1" if request.keep_audio else b"audio=0")
    digest.update(f"model={request.model}".encode())  # another tier is another edit
    roles = [("video", request.video), *((f"image{i}", p) for i, p in enumerate(request.images))]
    for n, element in enumerate(request.elements):
        roles += [(f"element{n}.frontal", element.frontal)] if element.frontal else []
        roles += [(f"element{n}.reference{i}", p) for i, p in enumerate(element.references)]
    for role, path in roles:
        digest.update(role.encode())
        digest.update(_file_identity(path))
    return digest.hexdigest()


def _file_identity(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            head = f.read(_SAMPLE_BYTES)
            f.seek(max(0, size - _SAMPLE_BYTES))
            tail = f.read(_SAMPLE_BYTES)
    except OSError:
        return f"missing:{path}".encode()  # the pre-flight reports it; identity by name is enough
    return hashlib.sha256(size.to_bytes(8, "big") + head + tail).digest()


class SubmissionGuard:
    def __init__(self, window_s: float = DEFAULT_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._claims: dict[tuple[str, str], _Claim] = {}
        self._lock = threading.Lock()

    def claim(self, owner: str, key: str, still_running: Callable[[str], bool]) -> None:
        """Reserve ``(owner, key)`` for a new submission, or raise ``DuplicateSubmission`` when
        the same one was claimed within the window and its job has not finished.

        The check and the reservation happen under one lock, so two clicks handled at once by
        two threads cannot both pass."""
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            previous = self._claims.get((owner, key))
            if previous is not None and (previous.job_id is None or still_running(previous.job_id)):
                which = f" (job {previous.job_id[:8]})" if previous.job_id else ""
                raise DuplicateSubmission(
                    f"This exact edit is already starting{which}: the same clip, instruction and "
                    f"references were sent {human_duration(now - previous.at)} ago, so it was not started "
                    "twice.",
                    fix="Its progress is shown; change the instruction or an input to start another.",
                    job_id=previous.job_id)
            self._claims[(owner, key)] = _Claim(at=now)

    def started(self, owner: str, key: str, job_id: str) -> None:
        """The claimed submission became job ``job_id``."""
        with self._lock:
            claim = self._claims.get((owner, key))
            if claim is not None:
                claim.job_id = job_id

    def release(self, owner: str, key: str) -> None:
        """The claimed submission never became a job (refused, failed to copy): forget it."""
        with self._lock:
            claim = self._claims.get((owner, key))
            if claim is not None and claim.job_id is None:
                del self._claims[(owner, key)]

    def _forget_old(self, now: float) -> None:
        for k in [k for k, c in self._claims.items() if now - c.at >= self.window_s]:
            del self._claims[k]
