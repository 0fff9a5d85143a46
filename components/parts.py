"""The plan of a long clip that the page shows on its timeline before anything is spent.

Remembered per file version: scene detection reads the whole clip, and the panel asks again when
only the overlap or the tier changes. Generate plans again in the runner (``jobs/prepare.py``), on
the job's own copy of the clip, after the request was admitted.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from components.config import Settings, VideoLimits
from components.media.probe import probe
from components.segments.cut import source_fps, source_frames
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
