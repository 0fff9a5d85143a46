"""What a settled family produces: the joined clip of a long clip's segments, or the chosen take.

Both land in the parent's own folder (the joined clip is written there; a chosen take is linked
there), so retention removing a child's folder later never takes the parent's result with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from components.jobs.inputs import link_or_copy
from components.jobs.models import Job
from components.media.thumbnail import existing_thumbnail, thumbnail_path
from components.segments.join import join_segments
from components.segments.plan import SegmentPlan

JOINED_NAME = "joined.mp4"


@dataclass(frozen=True)
class Joined:
    video: Path
    notes: list[str]
    seconds: float


@dataclass(frozen=True)
class Chosen:
    video: Path
    side_by_side: Path | None


def join_parts(parent: Job, segments: list[Job], workdir: Path) -> Joined:
    """The segments' edits joined into one clip of the source's length and frame count."""
    request = parent.edit_request()
    plan = SegmentPlan.from_dict(request.extra["plan"])
    began = time.monotonic()
    edited = [Path(s.output_video) for s in segments if s.output_video is not None]
    joined = join_segments(edited, plan, request.video, workdir / JOINED_NAME, keep_audio=request.keep_audio)
    return Joined(joined.path, list(joined.notes), round(time.monotonic() - began, 3))


def chosen_take(take: Job, workdir: Path) -> Chosen:
    """Take ``take``'s files as the parent's result, linked into the parent's folder."""
    assert take.output_video is not None
    folder = workdir / "chosen"
    folder.mkdir(parents=True, exist_ok=True)
    number = (take.part or 0) + 1  # as the page counts takes
    video = _link(Path(take.output_video), folder / f"take-{number}.mp4")
    if (still := existing_thumbnail(Path(take.output_video))) is not None:  # history's still, made at finish
        _link(still, thumbnail_path(video))
    sbs = _link(Path(take.side_by_side), folder / f"take-{number}-side-by-side.mp4") \
        if take.side_by_side and Path(take.side_by_side).is_file() else None
    return Chosen(video, sbs)


def _link(source: Path, target: Path) -> Path:
    if not target.exists():
        link_or_copy(source, target)
    return target


def takes_note(done: int, total: int, chosen: int) -> str:
    """The details' line on a set of takes (``chosen`` from 0, said from 1, as the page counts)."""
    return f"{done} of {total} takes finished; take {chosen + 1} is chosen."


# A take is proposed over the lowest-numbered one only when it kept clearly more of the motion.
PROPOSE_MARGIN = 0.1


def best_motion(takes: list[Job]) -> int | None:
    """The take (its part index) that kept the motion best, when two or more were measured and it
    leads the next by ``PROPOSE_MARGIN``; None otherwise (then the first success is the result)."""
    scored = sorted(((t.motion_fidelity, t.part) for t in takes
                     if t.motion_fidelity is not None and t.part is not None), reverse=True)
    if len(scored) < 2 or scored[0][0] - scored[1][0] < PROPOSE_MARGIN:
        return None
    return scored[0][1]


def proposed_note(takes: dict[int, Job], pick: int) -> str:
    others = ", ".join(f"take {i + 1}: {t.motion_fidelity:.2f}" for i, t in sorted(takes.items())
                       if i != pick and t.motion_fidelity is not None)
    return (f"Take {pick + 1} kept the original's motion best ({takes[pick].motion_fidelity:.2f}; {others}), "
            "so it is proposed as the result; choose another take to change that.")
