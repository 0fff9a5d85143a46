"""Make a clip acceptable to Kling O1 ("Fix it") the cheapest valid way.

A clip that only needs trimming, and whose codec (H.264, 4:2:0) and container are already
acceptable, gets a smart cut (``smartcut.py``): exactly the range asked for, re-encoding only the
frames before the first keyframe inside it (and, rarely, after the last) and copying the rest with no
loss, in a fraction of the time of a re-encode. Anything else (rotation, scale, a frame rate
outside 24-60 fps or a variable one that must be re-timed, another codec or container, a file still
too big) is re-encoded as H.264/AAC MP4 under the size limit, with the frame rate moved to the nearest
accepted constant rate (23.976 -> 24, 120 -> 60).

One ffmpeg process streams the clip from file to file, so memory stays flat whatever the size.
The result carries the list of what changed in plain words (the exact cut, the new rate), so the
user sees exactly what was done to their footage before paying for an edit of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from components.atomic import atomic_output
from components.config import MODEL_NAME, VideoLimits
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
from components.media.limits import (
    FPS_TOLERANCE,
    check_video,
    container_name,
    fps_text,
    frame_rate_problem,
    retime_target,
)
from components.media.packets import scan_packets
from components.media.probe import MediaInfo, probe
from components.media.smartcut import describe_cut, plan_spans, smart_cut
from components.units import human_duration, human_size, seconds

# A ceiling on what x264 at our CRF spends on very busy footage, in bits per pixel per frame.
# While width x height x fps x duration at this rate fits the byte limit, no bitrate cap is needed.
_WORST_BITS_PER_PIXEL = 0.4
_SIZE_MARGIN = 0.92  # room for the container and the audio encoder's own overshoot
_BUFFER_SECONDS = 1.0  # x264's rate buffer: it may start full, so it adds to what the cap lets through
_MIN_VIDEO_BITRATE = 200_000  # below this a capped encode is not worth watching
# A re-encoded trim keeps this much below the longest accepted clip (10.05 -> 10.0 s): frame and
# audio-packet rounding may add a few ms, and a round figure reads better in the change list.
TRIM_MARGIN = 0.05
_COPY_SIZE_MARGIN = 0.98  # a cut is expected to weigh its share of the file; keep room for variance
_COPY_CODECS = {"h264"}  # what a copy may keep: H.264 plays in every browser and in Kling O1
_COPY_PIXEL_FORMATS = {"yuv420p", "yuvj420p"}


@dataclass(frozen=True)
class ConformPlan:
    start: float = 0.0  # seconds into the source
    end: float | None = None  # None: to the end of the source
    limits: VideoLimits = field(default_factory=VideoLimits)  # the output is scaled into these sides
    keep_audio: bool = True
    max_bytes: int | None = None  # None: limits.max_bytes
    copy: bool = True  # a trim-only fix may copy most frames (smart cut); False re-encodes all (benchmarks)


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
            f"Video is {width}x{height}, an aspect ratio of {long_ / short:.1f}:1; "
            f"{MODEL_NAME} needs the short "
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
        raise InputError(f"The chosen start ({human_duration(begin)}) is not before the end "
                         f"({human_duration(stop)}) of the {human_duration(info.duration)} video.",
                         fix="Pick a start before the end.", field="video")
    stop = min(stop, round(begin + limits.max_seconds - TRIM_MARGIN, 3))
    if stop - begin < limits.min_seconds:
        raise InputError(
            f"The part to keep is {human_duration(stop - begin)}; {MODEL_NAME} accepts "
            f"{seconds(limits.min_seconds)}-{seconds(limits.max_seconds)} s.",
            fix=f"Keep at least {seconds(limits.min_seconds)} s (use a longer clip if it is shorter).",
            field="video")
    fit_size(info.width, info.height, limits)  # raises for a shape that cannot fit
    return ConformPlan(start=begin, end=stop if stop < info.duration else None, limits=limits,
                       keep_audio=keep_audio)


def conform(path: Path | str, plan: ConformPlan, out_dir: Path | str, *,
            on_progress: ProgressFn | None = None, cancel: CancelFn | None = None,
            info: MediaInfo | None = None) -> ConformResult:
    """Write ``<stem>.conformed.mp4`` in ``out_dir`` following ``plan``; report what changed.

    ``on_progress`` gets the fraction done (0..1); ``cancel`` is polled a few times a second and
    stops ffmpeg with ``JobCancelled``. A partial output never survives a failure or a cancel.
    Metadata (location, device) is not copied: it has no use for the edit and should not travel.
    ``info`` is ``path``'s probe when the caller already holds it (the plan was made from it).
    """
    path = Path(path)
    info = info or probe(path)
    start = min(max(plan.start, 0.0), info.duration)
    end = min(plan.end if plan.end is not None else info.duration, info.duration)
    duration = end - start
    if duration <= 0:
        raise InputError(f"Nothing to keep: the start ({human_duration(start)}) is not before the end "
                         f"({human_duration(end)}).",
                         fix="Pick a start before the end.", field="video")
    width, height = fit_size(info.width, info.height, plan.limits)
    max_bytes = plan.max_bytes or plan.limits.max_bytes
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{path.stem}.conformed.mp4"
    why_not_copy: str | None = None
    if plan.copy and not reencode_reasons(info, plan.limits, (width, height)):
        copied = _try_copy(path, info, start, end, plan, max_bytes, out, on_progress, cancel)
        if isinstance(copied, ConformResult):
            return copied
        why_not_copy = copied
    return _reencode(path, info, start, duration, (width, height), plan, max_bytes, out, why_not_copy,
                     on_progress, cancel)


def reencode_reasons(info: MediaInfo, limits: VideoLimits, size: tuple[int, int]) -> list[str]:
    """What, besides the length, needs new pixels; empty when a stream copy can deliver the clip."""
    reasons = []
    if info.container not in limits.containers:
        reasons.append(f"the container is {container_name(info.container)}")
    if info.video_codec not in _COPY_CODECS:
        reasons.append(f"the codec is {info.video_codec}")
    if info.pixel_format not in _COPY_PIXEL_FORMATS:
        reasons.append(f"the pixel format is {info.pixel_format}")
    if info.rotation:
        reasons.append("the rotation must be baked in")
    if size != (info.width, info.height):
        reasons.append("the picture must be scaled")
    if frame_rate_problem(info, limits) is not None:
        reasons.append("the frame rate must be re-timed")
    return reasons


def _reencode(path: Path, info: MediaInfo, start: float, duration: float, size: tuple[int, int],
              plan: ConformPlan, max_bytes: int, out: Path, why_not_copy: str | None,
              on_progress: ProgressFn | None, cancel: CancelFn | None) -> ConformResult:
    width, height = size
    keep_audio = plan.keep_audio and info.has_audio
    rate = retime_target(info, plan.limits)

    filters = [f"scale={width}:{height}:flags=bicubic", "setsar=1"]
    if info.vfr or abs(rate - info.fps) > FPS_TOLERANCE:
        filters.append(f"fps={rate:g}")
    cap = bitrate_cap(width, height, rate, duration, max_bytes, keep_audio)
    args = ["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(path), "-map", "0:v:0",
            "-vf", ",".join(filters), *H264_ARGS]
    if cap:
        args += ["-maxrate", str(cap), "-bufsize", str(int(cap * _BUFFER_SECONDS))]
    args += ["-map", "0:a:0", *AAC_ARGS] if keep_audio else ["-an"]
    write_capped(path, [*args, "-sn", "-dn", "-map_metadata", "-1", *MP4_ARGS], out, max_bytes, "convert",
           duration, on_progress, cancel)
    changes = _describe(info, start, duration, size, rate, plan.keep_audio, cap, max_bytes)
    if why_not_copy and changes:
        changes[0] += f" (re-encoded whole: {why_not_copy})"
    return ConformResult(path=out, changes=changes, info=probe(out))


def write_capped(path: Path, args: list[str], out: Path, max_bytes: int, action: str, duration: float,
                 on_progress: ProgressFn | None, cancel: CancelFn | None) -> None:
    """Run ffmpeg into a private part file and move it to ``out`` only when it is whole and fits."""
    with atomic_output(out) as part:
        run_streaming([*args, "-y", str(part)], file=path, action=action, duration=duration,
                      on_progress=on_progress, cancel=cancel)
        if (written := part.stat().st_size) > max_bytes:
            raise MediaError(f"Converted {path.name} is {human_size(written, max_bytes)}, over the "
                             f"{human_size(max_bytes)} limit.", fix="Trim it shorter and try again.",
                             field="video")


# ---------------------------------------------------------------------------- stream-copy trim


def _try_copy(path: Path, info: MediaInfo, start: float, end: float, plan: ConformPlan, max_bytes: int,
              out: Path, on_progress: ProgressFn | None,
              cancel: CancelFn | None) -> ConformResult | str:
    """The copied clip as a ``ConformResult``, or why it cannot be one (then re-encode): a trim is a
    smart cut of exactly ``start``..``end``, anything else a stream copy into MP4."""
    keep_audio = plan.keep_audio and info.has_audio
    packets = scan_packets(path, "read the keyframes of") if start > 0 or end < info.duration else None
    spans = plan_spans(packets.decoded, packets.keyframes, start, end) if packets is not None else None
    length = spans.end - spans.first if spans is not None else info.duration
    expected = info.size_bytes * length / info.duration
    if expected > max_bytes * _COPY_SIZE_MARGIN:
        return (f"a {length:.2f} s copy would still be about {human_size(int(expected))}, over "
                f"{human_size(max_bytes)}")
    if spans is not None:
        if why := smart_cut(path, spans, out, keep_audio=keep_audio, on_progress=on_progress, cancel=cancel):
            return why
    else:
        args = ["-i", str(path), "-map", "0:v:0", "-c:v", "copy"]
        args += (["-map", "0:a:0", *(("-c:a", "copy") if info.audio_codec == "aac" else AAC_ARGS)]
                 if keep_audio else ["-an"])
        write_capped(path, [*args, "-sn", "-dn", "-map_metadata", "-1", *MP4_ARGS], out, max_bytes, "copy",
                     length, on_progress, cancel)
    result = probe(out)
    if why := _unacceptable(result, plan.limits, max_bytes, spans.frames if spans is not None else None):
        out.unlink(missing_ok=True)
        return f"the {'smart cut' if spans is not None else 'copy'} came out unacceptable ({why})"
    changes = [describe_cut(spans, info.duration, packets.frames)] if spans is not None and packets else []
    if info.container != "mp4":
        changes.append(f"moved from {container_name(info.container)} into MP4 (no re-encode)")
    if info.has_audio and not plan.keep_audio:
        changes.append("audio removed")
    elif keep_audio and info.audio_codec != "aac":
        changes.append(f"audio {info.audio_codec} -> AAC")
    return ConformResult(path=out, changes=changes, info=result)


def _unacceptable(result: MediaInfo, limits: VideoLimits, max_bytes: int, frames: int | None) -> str | None:
    """Why a copied clip cannot be handed on (a limit it breaks, a frame count that is not the one
    planned), or None."""
    if problems := check_video(result, limits):
        return problems[0].message.rstrip(".")
    if result.size_bytes > max_bytes:
        return f"{human_size(result.size_bytes)}, over {human_size(max_bytes)}"
    if frames is not None and result.frame_count != frames:
        return f"{result.frame_count} frames instead of {frames}"
    return None


def bitrate_cap(width: int, height: int, fps: float, duration: float, max_bytes: int,
                 with_audio: bool) -> int | None:
    """A video bitrate ceiling (bits/s) when the worst case of a CRF encode could pass ``max_bytes``."""
    audio = AAC_BITRATE if with_audio else 0
    worst = (width * height * fps * _WORST_BITS_PER_PIXEL + audio) * duration / 8
    if worst <= max_bytes * _SIZE_MARGIN:
        return None
    cap = int((max_bytes * 8 * _SIZE_MARGIN - audio * duration) / (duration + _BUFFER_SECONDS))
    if cap < _MIN_VIDEO_BITRATE:
        raise InputError(f"{human_duration(duration)} of video cannot fit in {human_size(max_bytes)} at a "
                         "watchable quality.", fix="Trim it shorter.", field="video")
    return cap


def _describe(info: MediaInfo, start: float, duration: float, size: tuple[int, int], rate: float,
              keep_audio: bool, cap: int | None, max_bytes: int) -> list[str]:
    changes = []
    if start > 0 or duration < info.duration - 0.05:
        where = f" (from {human_duration(start)})" if start > 0 else ""
        changes.append(f"trimmed {human_duration(info.duration)} -> {human_duration(duration)}{where}")
    if info.rotation:
        changes.append(f"rotation of {info.rotation}° baked in (stored "
                       f"{info.coded_width}x{info.coded_height}, shown {info.width}x{info.height})")
    if size != (info.width, info.height):
        changes.append(f"scaled {info.width}x{info.height} -> {size[0]}x{size[1]}")
    if info.vfr:
        changes.append(f"frame rate made constant at {rate:g} fps "
                       f"(was variable, {fps_text(info.fps)} fps on average; motion and duration kept)")
    elif abs(rate - info.fps) > FPS_TOLERANCE:
        how = "frames repeated" if rate > info.fps else "frames dropped"
        changes.append(f"re-timed {fps_text(info.fps)} fps -> {rate:g} fps ({how}; motion and duration kept)")
    if info.container != "mp4":
        changes.append(f"converted {container_name(info.container)} -> MP4")
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
