"""Cut a long clip into the segment files a plan describes, each one Kling O1 accepts as it is.

Every segment is read off one timeline: the source made constant at the plan's rate, frame n at
n / fps. Counting frames on that timeline (fps filter, then trim by frame number) rather than
seeking in seconds is what makes the segments tile the clip exactly, so the join can give back the
source's frame count. Each file is its own ffmpeg run that seeks to a second before its first
frame, so the clip is decoded about once in all and one encoder is alive at a time (flat memory
whatever the length); the seek's timestamps are put back on the clip's timeline before the fps
filter, so a segment sees the same frames a decode from the start would.

No audio: the join lays the source's own audio under the edited video, so seams never click.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from components.config import VideoLimits
from components.errors import JobCancelled, MediaError
from components.media.conform import bitrate_cap, fit_size, write_capped
from components.media.ffmpeg import H264_ARGS, MP4_ARGS, CancelFn
from components.media.limits import FPS_TOLERANCE, check_video, retime_target
from components.media.probe import MediaInfo, probe
from components.segments.plan import Segment, SegmentPlan

_PREROLL_SECONDS = 1.0  # decoded before a segment's first frame, so the fps filter has a frame to pick


def source_fps(info: MediaInfo, limits: VideoLimits) -> float:
    """The rate a clip is planned, cut and joined at: its own constant rate (for a variable one the
    rate it was shot at), moved into the accepted range, as every submitted file must be."""
    return retime_target(info, limits)


def source_frames(info: MediaInfo, fps: float) -> int:
    """How many frames the clip has on the constant ``fps`` timeline: its own count when it already
    runs at that rate, else its video's length at the new rate."""
    if info.frame_count and not info.vfr and abs(info.fps - fps) <= FPS_TOLERANCE:
        return info.frame_count
    video_seconds = info.frame_count / info.fps if info.frame_count and info.fps else info.duration
    return max(round(video_seconds * fps), 1)


def fps_arg(fps: float) -> str:
    """A rate as ffmpeg reads it exactly: 24 -> "24/1", 29.97 -> "2997/100" (a float's digits would be
    approximated differently by each filter that parses them)."""
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


def segment_name(index: int) -> str:
    return f"segment-{index:02d}.mp4"


def cut_segments(source: Path, plan: SegmentPlan, out_dir: Path, limits: VideoLimits, *,
                 on_progress: Callable[[float], None] | None = None,
                 cancel: CancelFn | None = None) -> list[Path]:
    """Write ``segment-00.mp4``, ... in ``out_dir``: frames [start_frame - lead_frames, end_frame) of
    ``source`` on the plan's timeline, scaled into ``limits``, H.264 without audio. Each file is
    checked against ``limits`` before the next is cut; a file that fails is a ``MediaError``.

    ``on_progress`` gets the fraction of all segments done (0..1); ``cancel`` stops ffmpeg with
    ``JobCancelled`` and leaves no partial file."""
    source = Path(source)
    info = probe(source)
    size = fit_size(info.width, info.height, limits)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = sum(seg.submitted_frames for seg in plan.segments)
    written: list[Path] = []
    done = 0
    for seg in plan.segments:
        if cancel is not None and cancel():  # ffmpeg would only notice after starting up
            raise JobCancelled(f"Cancelled before segment {seg.index + 1} of {plan.count} was cut.")
        out = out_dir / segment_name(seg.index)

        def progress(fraction: float, before: int = done, frames: int = seg.submitted_frames) -> None:
            if on_progress is not None:  # whole frames add up exactly: the last call reports 1.0
                on_progress((before + fraction * frames) / total)

        _cut_one(source, seg, plan, size, limits, out, progress, cancel)
        _check(out, seg, limits)
        written.append(out)
        done += seg.submitted_frames
    return written


def _cut_one(source: Path, seg: Segment, plan: SegmentPlan, size: tuple[int, int], limits: VideoLimits,
             out: Path, on_progress: Callable[[float], None], cancel: CancelFn | None) -> None:
    # Seek to a whole frame of the timeline a second early; -ss shifts timestamps to start at the
    # seek point, setpts shifts them back, and fps' start_time keeps frame numbers global.
    first = max(seg.cut_start_frame - math.ceil(_PREROLL_SECONDS * plan.fps), 0)
    seek = first / plan.fps
    width, height = size
    filters = [
        *([f"setpts=PTS+{seek:.6f}/TB"] if first else []),
        f"fps={fps_arg(plan.fps)}:start_time={seek:.6f}",
        # A source a frame or two short of the count (rounding of its last frame's duration) ends on
        # copies of its last frame rather than a short segment.
        f"tpad=stop_mode=clone:stop={math.ceil(plan.fps)}",
        f"trim=start_frame={seg.cut_start_frame - first}:end_frame={seg.end_frame - first}",
        "setpts=PTS-STARTPTS",
        f"scale={width}:{height}:flags=bicubic", "setsar=1",
    ]
    seconds_long = seg.billed_seconds
    cap = bitrate_cap(width, height, plan.fps, seconds_long, limits.max_bytes, False)
    args = [*(["-ss", f"{seek:.6f}"] if first else []), "-i", str(source), "-map", "0:v:0",
            "-vf", ",".join(filters), *H264_ARGS]
    if cap:
        args += ["-maxrate", str(cap), "-bufsize", str(cap)]
    args += ["-an", "-sn", "-dn", "-map_metadata", "-1", *MP4_ARGS]
    write_capped(source, args, out, limits.max_bytes, f"cut segment {seg.index + 1} of", seconds_long,
           on_progress, cancel)


def _check(path: Path, seg: Segment, limits: VideoLimits) -> None:
    """A segment Kling O1 would refuse, or one that lost frames, must not be paid for."""
    info = probe(path)
    problems = check_video(info, limits)
    if info.frame_count != seg.submitted_frames:
        problems_text = f"it has {info.frame_count} frames instead of {seg.submitted_frames}"
    elif problems:
        problems_text = problems[0].message.rstrip(".")
    else:
        return
    path.unlink(missing_ok=True)
    raise MediaError(f"Segment {seg.index + 1} ({seg.start:.2f}-{seg.end:.2f} s) came out unusable: "
                     f"{problems_text}.", fix="Re-export the clip as MP4 (H.264) and try again.",
                     field="video")
