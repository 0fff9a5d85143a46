"""The child edits a long clip becomes: its segments, planned and cut.

The plan of a long clip is what the page shows on its timeline before anything is spent and what
Generate submits, so both come from ``segment_plan``, remembered per file version: scene detection
reads the whole clip, and the page and the service would otherwise read it twice.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from components.config import Settings, VideoLimits
from components.media.probe import probe
from components.request import EditRequest
from components.segments.cut import cut_segments, source_fps, source_frames
from components.segments.plan import SegmentPlan, plan_segments
from components.segments.scenes import detect_cuts


def segment_plan(video: Path, overlap: float, settings: Settings) -> SegmentPlan:
    """Segments of 3-10 s for ``video``, cut at its shot changes where it has them."""
    st = video.stat()
    return _plan(video, st.st_size, st.st_mtime_ns, round(overlap, 3), settings.video)


@lru_cache(maxsize=64)
def _plan(video: Path, size: int, mtime_ns: int, overlap: float, limits: VideoLimits) -> SegmentPlan:
    info = probe(video)
    fps = source_fps(info, limits)
    return plan_segments(source_frames(info, fps), fps, detect_cuts(video), limits, overlap_seconds=overlap)


def segment_requests(request: EditRequest, plan: SegmentPlan, folder: Path,
                     settings: Settings) -> list[EditRequest]:
    """One request per segment: the segment's own file, the same words and references. Segments
    never keep their audio: the joined clip takes the source's track whole, so seams cannot click."""
    files = cut_segments(request.video, plan, folder, settings.video)
    return [replace(request, video=path, keep_audio=False) for path in files]
