"""Make a clip acceptable to Kling O1 ("Fix it"): trim, bake in rotation, scale into range, make
the frame rate constant, re-encode as H.264/AAC MP4 under the size limit.

One ffmpeg process streams the clip from file to file, so memory stays flat whatever the size.
The result carries the list of what changed in plain words, so the user sees exactly what was
done to their footage before paying for an edit of it.
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from components.config import VideoLimits
from components.errors import InputError, MediaError
from components.media.ffmpeg import (
    AAC_ARGS,
    AAC_BITRATE,
    H264_ARGS,
    MP4_ARGS,
    CancelFn,
    ProgressFn,
    run_streaming,
)
from components.media.limits import MODEL, human_size, seconds
from components.media.probe import MediaInfo, probe

# A ceiling on what x264 at our CRF spends on very busy footage, in bits per pixel per frame.
# While width x height x fps x duration at this rate fits the byte limit, no bitrate cap is needed.
_WORST_BITS_PER_PIXEL = 0.4
_SIZE_MARGIN = 0.92  # room for the container and the audio encoder's own overshoot
_BUFFER_SECONDS = 1.0  # x264's rate buffer: it may start full, so it adds to what the cap lets through
_MIN_VIDEO_BITRATE = 200_000  # below this a capped encode is not worth watching


@dataclass(frozen=True)
class ConformPlan:
    start: float = 0.0  # seconds into the source
    end: float | None = None  # None: to the end of the source
    limits: VideoLimits = field(default_factory=VideoLimits)  # the output is scaled into these sides
    keep_audio: bool = True
    max_bytes: int | None = None  # None: limits.max_bytes


@dataclass(frozen=True)
class ConformResult:
    path: Path
    changes: list[str]  # in plain words: "trimmed 12.0 s -> 10.0 s", "scaled 3840x2160 -> 2160x1216"
    info: MediaInfo  # the output, probed


def fit_size(width: int, height: int, limits: VideoLimits) -> tuple[int, int]:
    """The displayed size scaled (keeping the aspect) so the short side reaches ``min_side`` and the
    long side stays within ``max_side``; both even, as H.264 in 4:2:0 needs."""
    short, long_ = min(width, height), max(width, height)
    if long_ * limits.min_side > short * limits.max_side:
        raise InputError(
            f"Video is {width}x{height}, an aspect ratio of {long_ / short:.1f}:1; {MODEL} needs the short "
            f"side >= {limits.min_side} px and the long side <= {limits.max_side} px, which no scaling "
            f"reaches beyond {limits.max_side / limits.min_side:.1f}:1.",
            fix="Crop it to a less extreme shape (16:9 or 9:16 work best).", field="video")
    scale = 1.0
    if short < limits.min_side:
        scale = limits.min_side / short
    if long_ * scale > limits.max_side:
        scale = limits.max_side / long_
    lo, hi = 2 * math.ceil(limits.min_side / 2), 2 * (limits.max_side // 2)

    def even(side: int) -> int:  # the clamp only undoes rounding: the scale already fits both sides
        return min(max(2 * round(side * scale / 2), lo), hi)

    return even(width), even(height)


def plan_for(info: MediaInfo, limits: VideoLimits | None = None, start: float | None = None,
             end: float | None = None, keep_audio: bool = True) -> ConformPlan:
    """The plan that makes ``info``'s clip acceptable: keeps ``start``..``end`` (the whole clip by
    default), shortened to the longest clip allowed. Raises ``InputError`` when no plan can help
    (the chosen part is too short, or the shape cannot fit)."""
    limits = limits or VideoLimits()
    begin = max(start or 0.0, 0.0)
    stop = min(end if end is not None else info.duration, info.duration)
    if begin >= stop:
        raise InputError(f"The chosen start ({begin:.1f} s) is not before the end ({stop:.1f} s) of the "
                         f"{info.duration:.1f} s video.", fix="Pick a start before the end.", field="video")
    stop = min(stop, begin + limits.max_seconds)
    if stop - begin < limits.min_seconds:
        raise InputError(
            f"The part to keep is {stop - begin:.1f} s; {MODEL} accepts "
            f"{seconds(limits.min_seconds)}-{seconds(limits.max_seconds)} s.",
            fix=f"Keep at least {seconds(limits.min_seconds)} s (use a longer clip if it is shorter).",
            field="video")
    fit_size(info.width, info.height, limits)  # raises for a shape that cannot fit
    return ConformPlan(start=begin, end=stop if stop < info.duration else None, limits=limits,
                       keep_audio=keep_audio)


def conform(path: Path | str, plan: ConformPlan, out_dir: Path | str, *,
            on_progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> ConformResult:
    """Write ``<stem>.conformed.mp4`` in ``out_dir`` following ``plan``; report what changed.

    ``on_progress`` gets the fraction done (0..1); ``cancel`` is polled a few times a second and
    stops ffmpeg with ``JobCancelled``. A partial output never survives a failure or a cancel.
    Metadata (location, device) is not copied: it has no use for the edit and should not travel.
    """
    path = Path(path)
    info = probe(path)
    start = min(max(plan.start, 0.0), info.duration)
    end = min(plan.end if plan.end is not None else info.duration, info.duration)
    duration = end - start
    if duration <= 0:
        raise InputError(f"Nothing to keep: the start ({start:.1f} s) is not before the end ({end:.1f} s).",
                         fix="Pick a start before the end.", field="video")
    width, height = fit_size(info.width, info.height, plan.limits)
    max_bytes = plan.max_bytes or plan.limits.max_bytes
    keep_audio = plan.keep_audio and info.has_audio
    rate = info.constant_fps

    filters = [f"scale={width}:{height}:flags=bicubic", "setsar=1"]
    if info.vfr:
        filters.append(f"fps={rate:g}")
    cap = _bitrate_cap(width, height, rate, duration, max_bytes, keep_audio)
    args = ["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(path), "-map", "0:v:0",
            "-vf", ",".join(filters), *H264_ARGS]
    if cap:
        args += ["-maxrate", str(cap), "-bufsize", str(int(cap * _BUFFER_SECONDS))]
    args += ["-map", "0:a:0", *AAC_ARGS] if keep_audio else ["-an"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{path.stem}.conformed.mp4"
    part = out_dir / f".{path.stem}.{uuid.uuid4().hex[:8]}.part.mp4"  # two runs never share one
    try:
        run_streaming([*args, "-sn", "-dn", "-map_metadata", "-1", *MP4_ARGS, "-y", str(part)],
                      file=path, action="convert", duration=duration,
                      on_progress=on_progress, cancel=cancel)
        if (written := part.stat().st_size) > max_bytes:
            raise MediaError(f"Converted {path.name} is {human_size(written)}, over the "
                             f"{human_size(max_bytes)} limit.", fix="Trim it shorter and try again.",
                             field="video")
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    changes = _describe(info, start, duration, (width, height), rate, plan.keep_audio, cap, max_bytes)
    return ConformResult(path=out, changes=changes, info=probe(out))


def _bitrate_cap(width: int, height: int, fps: float, duration: float, max_bytes: int,
                 with_audio: bool) -> int | None:
    """A video bitrate ceiling (bits/s) when the worst case of a CRF encode could pass ``max_bytes``."""
    audio = AAC_BITRATE if with_audio else 0
    worst = (width * height * fps * _WORST_BITS_PER_PIXEL + audio) * duration / 8
    if worst <= max_bytes * _SIZE_MARGIN:
        return None
    cap = int((max_bytes * 8 * _SIZE_MARGIN - audio * duration) / (duration + _BUFFER_SECONDS))
    if cap < _MIN_VIDEO_BITRATE:
        raise InputError(f"{duration:.1f} s of video cannot fit in {human_size(max_bytes)} at a watchable "
                         "quality.", fix="Trim it shorter.", field="video")
    return cap


def _describe(info: MediaInfo, start: float, duration: float, size: tuple[int, int], rate: float,
              keep_audio: bool, cap: int | None, max_bytes: int) -> list[str]:
    changes = []
    if start > 0 or duration < info.duration - 0.05:
        where = f" (from {start:.1f} s)" if start > 0 else ""
        changes.append(f"trimmed {info.duration:.1f} s -> {duration:.1f} s{where}")
    if info.rotation:
        changes.append(f"rotation of {info.rotation}° baked in (stored "
                       f"{info.coded_width}x{info.coded_height}, shown {info.width}x{info.height})")
    if size != (info.width, info.height):
        changes.append(f"scaled {info.width}x{info.height} -> {size[0]}x{size[1]}")
    if info.vfr:
        changes.append(f"frame rate made constant at {rate:g} fps "
                       f"(was variable, {info.fps:g} fps on average)")
    if info.container != "mp4":
        changes.append(f"converted {info.container.upper()} -> MP4")
    if info.video_codec != "h264":
        changes.append(f"re-encoded {info.video_codec} -> H.264")
    if info.pixel_format != "yuv420p":
        changes.append(f"pixel format {info.pixel_format} -> yuv420p")
    if info.has_audio and not keep_audio:
        changes.append("audio removed")
    elif info.has_audio and info.audio_codec != "aac":
        changes.append(f"audio {info.audio_codec} -> AAC")
    if cap:
        changes.append(f"bitrate capped at {cap / 1e6:.1f} Mb/s to stay under {human_size(max_bytes)}")
    return changes
