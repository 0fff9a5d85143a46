"""The studio's own exceptions. Each carries the sentence a user reads.

The core never imports gradio; the UI and the API turn a ``StudioError`` into ``gr.Error`` with
``str(error)`` as the message, so the browser and gradio_client show the same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Finding:
    """One result of a pre-flight check: what is wrong, the limit, and how to fix it."""

    level: Literal["error", "warning"]
    field: str  # "prompt", "video", "images[0]", "elements[1].frontal", ...
    message: str  # what is wrong, with the measured value and the limit
    fix: str = ""  # what the user can do about it

    def __str__(self) -> str:
        return f"{self.message} {self.fix}".strip()


class StudioError(Exception):
    """A failure the user should read; ``str()`` is the full user-facing sentence."""

    def __init__(self, message: str, *, fix: str = "", field: str | None = None) -> None:
        self.message = message
        self.fix = fix
        self.field = field
        super().__init__(f"{message} {fix}".strip())


class InputError(StudioError):
    """Input rejected before anything was uploaded or paid for."""

    def __init__(self, message: str, *, fix: str = "", field: str | None = None,
                 findings: tuple[Finding, ...] = ()) -> None:
        super().__init__(message, fix=fix, field=field)
        self.findings = findings

    @classmethod
    def from_findings(cls, findings: list[Finding] | tuple[Finding, ...]) -> InputError:
        errors = tuple(f for f in findings if f.level == "error")
        if not errors:
            raise ValueError("from_findings needs at least one error finding")
        if len(errors) == 1:
            f = errors[0]
            return cls(f.message, fix=f.fix, field=f.field, findings=errors)
        text = "; ".join(str(f) for f in errors)
        return cls(f"{len(errors)} problems: {text}", field=errors[0].field, findings=errors)


class MediaError(InputError):
    """A file that cannot be read as the media it claims to be (names the file)."""


class EngineError(StudioError):
    """The engine could not finish the edit. ``temporary`` says whether trying again may help."""

    def __init__(self, message: str, *, fix: str = "", field: str | None = None,
                 temporary: bool = False, request_id: str | None = None) -> None:
        super().__init__(message, fix=fix, field=field)
        self.temporary = temporary
        self.request_id = request_id


class AuthError(EngineError):
    """The fal key is missing, malformed or refused."""


class RateLimitError(EngineError):
    """fal (or this app's per-session limit) asked us to slow down."""


class QueueTimeoutError(EngineError):
    """A fal job did not leave the queue in time; it may still finish and can be resumed by id."""


class JobCancelled(StudioError):
    """The user cancelled; not a failure."""
