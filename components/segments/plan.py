"""Where a long clip is cut into pieces Kling O1 accepts: pure arithmetic on frame indices.

Kling O1 edits 3-10.05 s per request, so a 20-60 s clip is edited in segments and joined back.
A seam is invisible where the footage already cuts (a shot change), so boundaries go there first,
and a shot longer than one request is split evenly. Between pieces of one shot, an optional lead
(a few frames taken before the boundary and edited twice) lets the join crossfade instead of
jumping; a seam at a shot change needs none, so it costs nothing there.

Everything is in whole frames at one constant rate (the rate the segments are cut and joined at),
so the joined clip has exactly the source's frame count whatever the seconds round to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from components.config import MODEL_NAME, VideoLimits
from components.edit.modes import MAX_OVERLAP_SECONDS
from components.errors import InputError
from components.units import human_duration, seconds

# A submitted piece stays this far inside the accepted length (10.05 -> 10.0 s, like conform's
# trim margin): encoders and muxers round the last frame and audio packet by a few ms.
MAX_MARGIN = 0.05
_MAX_FPS = 240.0  # beyond any rate a plan is made at (24-60): a stored plan above it is garbage
_PLAN_KEYS = {"fps", "frame_count", "segments", "cuts", "overlap_frames"}
_SEGMENT_KEYS = {"index", "start_frame", "end_frame", "lead_frames", "at_shot_change"}


@dataclass(frozen=True)
class Segment:
    """One request's share of the clip: its own frames [start_frame, end_frame) plus ``lead_frames``
    before them that the join crossfades over the previous segment's tail."""

    index: int  # 0-based
    start_frame: int  # first frame of this segment's own part (in the source at fps)
    end_frame: int  # one past its last frame == next segment's start_frame
    lead_frames: int = 0  # overlap frames taken before start_frame for a crossfade (0 for the first)
    at_shot_change: bool = False  # start_frame is a detected cut (False for index 0 and even splits)
    fps: float = field(kw_only=True)  # the plan's rate, so the seconds below need no argument

    @property
    def cut_start_frame(self) -> int:
        """The first frame of the file submitted for this segment (its lead included)."""
        return self.start_frame - self.lead_frames

    @property
    def frames(self) -> int:
        """Frames of its own part: what it contributes to the joined clip."""
        return self.end_frame - self.start_frame

    @property
    def submitted_frames(self) -> int:
        return self.end_frame - self.cut_start_frame

    @property
    def start(self) -> float:
        return self.start_frame / self.fps

    @property
    def end(self) -> float:
        return self.end_frame / self.fps

    @property
    def cut_start(self) -> float:
        return self.cut_start_frame / self.fps

    @property
    def billed_seconds(self) -> float:
        """How long the submitted file lasts, which is what fal bills."""
        return self.submitted_frames / self.fps


@dataclass(frozen=True)
class SegmentPlan:
    """The whole clip as consecutive segments; built by ``plan_segments`` or read back ``from_dict``.

    The constructor checks that the segments tile [0, frame_count) without gaps, so a plan that
    exists is one the cutter and the joiner can trust."""

    fps: float  # the constant rate segments are cut and joined at
    frame_count: int  # source frames at that rate
    segments: tuple[Segment, ...]
    cuts: tuple[float, ...]  # detected shot changes, seconds
    overlap_frames: int = 0

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise InputError(f"The segment plan is not usable: {problem}.",
                             fix="Plan the segments again from the clip.", field="video")

    def _problem(self) -> str | None:
        if not (math.isfinite(self.fps) and 0 < self.fps <= _MAX_FPS):
            return f"its frame rate {self.fps!r} is not a rate between 0 and {_MAX_FPS:g} fps"
        if self.frame_count <= 0:
            return f"it covers {self.frame_count} frames"
        if not 0 <= self.overlap_frames <= round(MAX_OVERLAP_SECONDS * self.fps):
            return (f"its overlap of {self.overlap_frames} frames is outside "
                    f"0-{seconds(MAX_OVERLAP_SECONDS)} s")
        if not self.segments:
            return "it has no segments"
        if any(not (math.isfinite(c) and 0 <= c <= self.source_seconds) for c in self.cuts) \
                or list(self.cuts) != sorted(set(self.cuts)):
            return "its shot changes are not increasing times within the clip"
        expected_start = 0
        for i, seg in enumerate(self.segments):
            if seg.index != i or seg.start_frame != expected_start:
                return f"segment {i + 1} does not start where segment {i} ends"
            if seg.fps != self.fps:
                return f"segment {i + 1} is at {seg.fps:g} fps, the plan at {self.fps:g} fps"
            if seg.end_frame <= seg.start_frame:
                return f"segment {i + 1} is empty"
            if not 0 <= seg.lead_frames <= self.overlap_frames or (i == 0 and seg.lead_frames):
                return (f"segment {i + 1} leads by {seg.lead_frames} frames, "
                        f"the overlap is {self.overlap_frames}")
            if seg.lead_frames and i > 0 and seg.lead_frames > self.segments[i - 1].frames:
                return f"segment {i + 1} leads by more frames than segment {i} has"
            if i == 0 and seg.at_shot_change:
                return "the first segment starts at a shot change"
            expected_start = seg.end_frame
        if expected_start != self.frame_count:
            return f"its segments end at frame {expected_start}, the clip at {self.frame_count}"
        return None

    @property
    def count(self) -> int:
        return len(self.segments)

    @property
    def source_seconds(self) -> float:
        return self.frame_count / self.fps

    @property
    def billed_seconds(self) -> float:
        """What every submitted file lasts, added up: the seconds fal bills for the whole clip."""
        return sum(seg.submitted_frames for seg in self.segments) / self.fps

    @property
    def extra_seconds(self) -> float:
        """What the crossfades cost: seconds submitted twice."""
        return sum(seg.lead_frames for seg in self.segments) / self.fps

    def describe(self) -> str:
        """One line for the page: "4 segments: 0:00-0:09.5, 0:09.5-0:18 (shot change), ..."."""
        parts = [f"{clock(seg.start)}-{clock(seg.end)}" + (" (shot change)" if seg.at_shot_change else "")
                 for seg in self.segments]
        noun = "segment" if self.count == 1 else "segments"
        line = f"{self.count} {noun}: {', '.join(parts)}"
        if fades := sum(1 for seg in self.segments if seg.lead_frames):
            plural = "s" if fades > 1 else ""
            line += (f"; {fades} crossfade{plural} of {self.overlap_frames / self.fps:.2g} s "
                     f"add {human_duration(self.extra_seconds)} billed")
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "fps": self.fps,
            "frame_count": self.frame_count,
            "overlap_frames": self.overlap_frames,
            "cuts": list(self.cuts),
            "segments": [{"index": s.index, "start_frame": s.start_frame, "end_frame": s.end_frame,
                          "lead_frames": s.lead_frames, "at_shot_change": s.at_shot_change}
                         for s in self.segments],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SegmentPlan:
        """The plan ``to_dict`` wrote. A stored job may come back damaged or forged, so every key,
        type and range is checked; anything else is an ``InputError``, never a half-valid plan."""
        def bad(what: str) -> InputError:
            return InputError(f"The stored segment plan is damaged: {what}.",
                              fix="Plan the segments again from the clip.", field="video")

        if not isinstance(d, dict) or set(d) != _PLAN_KEYS:
            raise bad(f"it needs exactly the keys {', '.join(sorted(_PLAN_KEYS))}")
        fps, frame_count, overlap = d["fps"], d["frame_count"], d["overlap_frames"]
        if not _is_number(fps) or not _is_int(frame_count) or not _is_int(overlap):
            raise bad("fps must be a number, frame_count and overlap_frames whole numbers")
        cuts, raw_segments = d["cuts"], d["segments"]
        if not isinstance(cuts, list) or not all(_is_number(c) for c in cuts):
            raise bad("cuts must be a list of numbers")
        if not isinstance(raw_segments, list):
            raise bad("segments must be a list")
        segments = []
        for i, s in enumerate(raw_segments):
            if not isinstance(s, dict) or set(s) != _SEGMENT_KEYS:
                raise bad(f"segment {i + 1} needs exactly the keys {', '.join(sorted(_SEGMENT_KEYS))}")
            ints = (s["index"], s["start_frame"], s["end_frame"], s["lead_frames"])
            if not all(_is_int(v) for v in ints) or not isinstance(s["at_shot_change"], bool):
                raise bad(f"segment {i + 1} must hold whole frame numbers and a true/false shot change")
            segments.append(Segment(*ints, s["at_shot_change"], fps=float(fps)))
        return cls(fps=float(fps), frame_count=frame_count, segments=tuple(segments),
                   cuts=tuple(float(c) for c in cuts), overlap_frames=overlap)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def clock(t: float) -> str:
    """A time in the clip as a player shows it, to a tenth: 9.5 -> "0:09.5", 18 -> "0:18"."""
    tenths = round(t * 10)
    minutes, rest = divmod(tenths, 600)
    whole, tenth = divmod(rest, 10)
    return f"{minutes}:{whole:02d}" + (f".{tenth}" if tenth else "")


def piece_bounds(fps: float, limits: VideoLimits) -> tuple[int, int]:
    """(fewest, most) frames of one submitted file: ``min_seconds`` plus a frame, and
    ``max_seconds`` less ``MAX_MARGIN``."""
    fewest = math.ceil(limits.min_seconds * fps - 1e-9) + 1
    most = math.floor((limits.max_seconds - MAX_MARGIN) * fps + 1e-9)
    return fewest, most


def plan_segments(frame_count: int, fps: float, cuts: Sequence[float], limits: VideoLimits,
                  overlap_seconds: float = 0.0) -> SegmentPlan:
    """Segments covering ``frame_count`` frames at ``fps`` whose submitted files each last what
    ``limits`` accept, with as many boundaries as possible at ``cuts`` (seconds), each shot longer
    than one request split evenly, and a lead of ``overlap_seconds`` before every boundary that is
    not a shot change. Deterministic: the same clip always gets the same plan.

    Raises ``InputError`` when no plan exists (a clip shorter than one request)."""
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"The frame rate {fps!r} is not a positive number of frames per second.",
                         fix="Probe the clip again.", field="video")
    if not (math.isfinite(overlap_seconds) and 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS):
        raise InputError(f"The crossfade of {overlap_seconds!r} s is outside "
                         f"0-{seconds(MAX_OVERLAP_SECONDS)} s.",
                         fix=f"Pick a crossfade of at most {seconds(MAX_OVERLAP_SECONDS)} s (0 for none).",
                         field="overlap")
    fewest, most = piece_bounds(fps, limits)
    lead = round(overlap_seconds * fps)
    if frame_count < fewest:
        raise InputError(
            f"The clip is {human_duration(frame_count / fps)} ({frame_count} frames at {fps:g} fps); every "
            f"segment {MODEL_NAME} edits must last at least {seconds(limits.min_seconds)} s, so it cannot "
            "be split.", fix=f"Use a clip of at least {seconds(limits.min_seconds)} s.", field="video")
    anchors = [0, *sorted({f for c in cuts if 0 < (f := round(c * fps)) < frame_count}), frame_count]
    pieces = _best_pieces(anchors, fewest, most, lead)
    if pieces is None:  # only with limits narrower than Kling's (max < 2 x min): some lengths never split
        fade = f" with a {human_duration(overlap_seconds)} crossfade" if lead else ""
        raise InputError(
            f"No way to split {human_duration(frame_count / fps)} into segments of "
            f"{seconds(limits.min_seconds)}-{seconds(limits.max_seconds)} s{fade} exists.",
            fix="Use a shorter crossfade, or none." if lead else "Trim the clip a little and plan again.",
            field="overlap" if lead else "video")
    segments, start = [], 0
    for i, (own, lead_frames, at_cut) in enumerate(pieces):
        segments.append(Segment(i, start, start + own, lead_frames, at_cut, fps=fps))
        start += own
    return SegmentPlan(fps=fps, frame_count=frame_count, segments=tuple(segments),
                       cuts=tuple(sorted({float(c) for c in cuts if 0 <= c <= frame_count / fps})),
                       overlap_frames=lead)


_Piece = tuple[int, int, bool]  # (own frames, lead frames, starts at a shot change)


def _best_pieces(anchors: list[int], fewest: int, most: int, lead: int) -> list[_Piece] | None:
    """Dynamic programming over the anchors (0, the cut frames, the end): the chain from 0 to the
    end that uses the most cuts, then has the fewest segments, then the shortest longest file.

    A chain may skip a cut: one too close to another or to an end cannot be a boundary. When every
    span of at least ``fewest`` frames can be split (``dense``, true for Kling's 3-10 s), a cut
    ``fewest`` frames inside a span could always be used instead of skipped, so no span needs to
    pass over one; that bounds the work to the cuts near each anchor, even on footage that
    flashes every frame."""
    last = len(anchors) - 1
    # best[j]: (score, previous anchor, pieces from it) of the best chain ending at anchors[j];
    # score = (-cuts used, segments, longest submitted file), smaller is better
    best: dict[int, tuple[tuple[int, int, int], int, list[_Piece]]] = {0: ((0, 0, 0), -1, [])}
    dense = most + lead + 1 >= 2 * fewest
    for a in range(last):
        if a not in best:
            continue
        (neg_cuts, count, longest), _, _ = best[a]
        usable = next((b for b in range(a + 1, last) if anchors[b] - anchors[a] >= fewest), None)
        for b in range(a + 1, last + 1):
            if dense and usable is not None and b > usable and anchors[b] - anchors[usable] >= fewest:
                break  # this span, and every longer one, would pass over a usable cut
            span = _split(anchors[b] - anchors[a], fewest, most, lead, at_cut=a > 0)
            if span is None:
                continue
            score = (neg_cuts - (b < last), count + len(span),
                     max(longest, *(own + ahead for own, ahead, _ in span)))
            if b not in best or score < best[b][0]:
                best[b] = (score, a, span)
    if last not in best:
        return None
    spans: list[list[_Piece]] = []
    j = last
    while j > 0:
        _, j, span = best[j]
        spans.append(span)
    return [piece for span in reversed(spans) for piece in span]


def _split(frames: int, fewest: int, most: int, lead: int, *, at_cut: bool) -> list[_Piece] | None:
    """One shot's span in the fewest pieces whose submitted files (own part + lead) all last
    ``fewest``..``most`` frames and differ by at most one frame; None when none fits. The first
    piece starts at the span's start (a shot change or the clip's start), so it has no lead."""
    if frames < fewest:
        return None
    k = 1 if frames <= most else 1 + math.ceil((frames - most) / (most - lead))
    submitted = frames + (k - 1) * lead
    base, extra = divmod(submitted, k)
    if base < fewest or base + (extra > 0) > most:
        return None
    sizes = [base + (i < extra) for i in range(k)]
    return [(size - (lead if i else 0), lead if i else 0, at_cut and i == 0) for i, size in enumerate(sizes)]
