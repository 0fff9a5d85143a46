"""A long clip's first phases, run by the runner after the request was admitted: find its shot
changes, plan its segments, cut them.

They read and re-encode the whole clip (for a 60 s 4K clip, minutes of CPU), so they are phases of
the job, with progress and Cancel and a durable record, and never work a request does before it
has an answer. What the request admitted is an estimate (the plan without shot changes, which is
arithmetic); the real plan is admitted again here (``AdmitPlan``) before a segment is cut.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

from components.config import Settings
from components.edit.request import EditRequest
from components.engines.base import CancelToken
from components.jobs.models import Job
from components.media.probe import MediaInfo, probe
from components.segments.cut import cut_segments, source_fps, source_frames
from components.segments.plan import SegmentPlan, plan_segments
from components.segments.scenes import detect_cuts

WAITING = "Waiting for a free slot to find the shot changes"
FINDING = "Finding the shot changes"
CANCELLED = "Cancelled before any segment was sent: nothing was charged."
WAITING_FOR_KEY = ("The app restarted while this long clip was being prepared; enter your fal key again "
                   "to go on (nothing was sent to fal yet).")
NO_ENGINE = "This long clip was still being prepared when the app restarted, and no engine can run it now."
_PARENT_ONLY = ("plan", "parts", "overlap", "billed_usd", "estimate")
CUT_FOLDER = "segments"  # in the parent's folder; each child links its segment into its own inputs

# (parent, its real plan) -> a context in which the plan is admitted; raises to refuse it.
AdmitPlan = Callable[[Job, SegmentPlan], AbstractContextManager[None]]


@contextlib.contextmanager
def admit_nothing(parent: Job, plan: SegmentPlan) -> Iterator[None]:
    """The runner's default: no budget to check (a runner without an edit service, in tests)."""
    yield


def needs_preparing(parent: Job, children: list[Job]) -> bool:
    """A long clip whose segments do not exist yet (just submitted, or cut short by a restart)."""
    return parent.kind == "segments" and not children


def cutting(count: int) -> str:
    return f"Cutting the clip into {count} segments"


def estimate(info: MediaInfo, overlap: float, settings: Settings) -> SegmentPlan:
    """The plan as if the clip had no shot changes: arithmetic on its probed length, what a request
    admits before the real plan exists (shot changes can move seams and add a few segments)."""
    fps = source_fps(info, settings.video)
    return plan_segments(source_frames(info, fps), fps, [], settings.video, overlap_seconds=overlap)


def plan(video: Path, overlap: float, settings: Settings, cancel: CancelToken,
         on_progress: Callable[[float], None]) -> SegmentPlan:
    """The real plan: segments cut at the clip's shot changes where it has them."""
    info = probe(video)
    fps = source_fps(info, settings.video)
    cuts = detect_cuts(video, cancel=lambda: cancel.cancelled, on_progress=on_progress, info=info)
    cancel.raise_if_cancelled()
    return plan_segments(source_frames(info, fps), fps, cuts, settings.video, overlap_seconds=overlap)


def with_plan(parent: Job, plan: SegmentPlan, settings: Settings) -> dict[str, Any]:
    """The parent's request with its plan, part count and real cost on the server's key."""
    extra: dict[str, Any] = {**parent.request.get("extra", {}), "plan": plan.to_dict(), "parts": plan.count}
    if parent.key_source == "server":
        extra["billed_usd"] = settings.cost(plan.billed_seconds, parent.edit_request().model)
    return {**parent.request, "extra": extra}


def cut(parent: Job, plan: SegmentPlan, folder: Path, settings: Settings, cancel: CancelToken,
        on_progress: Callable[[float], None]) -> list[EditRequest]:
    """One request per segment: the segment's own file, the same words and references. Segments
    never keep their audio: the joined clip takes the source's track whole, so seams cannot click.
    On the server's key each carries its own cost, which the budget counts from then on."""
    request = parent.edit_request()
    files = cut_segments(request.video, plan, folder / CUT_FOLDER, settings.video,
                         on_progress=on_progress, cancel=lambda: cancel.cancelled)
    own = {k: v for k, v in request.extra.items() if k not in _PARENT_ONLY}
    parts = []
    for segment, path in zip(plan.segments, files, strict=True):
        extra = dict(own)
        if parent.key_source == "server":
            extra["billed_usd"] = settings.cost(segment.billed_seconds, request.model)
        parts.append(replace(request, video=path, keep_audio=False, extra=extra))
    return parts


def drop_cut_files(folder: Path) -> None:
    shutil.rmtree(folder / CUT_FOLDER, ignore_errors=True)
