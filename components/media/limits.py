"""Pre-flight check of a probed video against what Kling O1 accepts.

Every violation is reported at once, each with the measured value, the limit and the fix, so the
user fixes everything in one go instead of meeting the rules one failed upload at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config import MODEL_NAME, VideoLimits
from components.errors import Finding
from components.units import human_size, seconds

if TYPE_CHECKING:
    from components.media.probe import MediaInfo

FPS_TOLERANCE = 0.005  # timestamps round: 24 fps may measure 23.999; 23.976 is far outside it
# ffmpeg's demuxer -> what users call it ("matroska" means nothing to someone holding a .webm)
_FORMAT_NAMES = {"matroska": "MKV/WebM", "mpegts": "MPEG-TS", "mov": "MOV", "mp4": "MP4", "3gp": "3GP",
                 "m4a": "M4A", "avi": "AVI", "flv": "FLV", "asf": "WMV/ASF", "mpeg": "MPEG-PS"}


def container_name(container: str) -> str:
    """A container as people name it: "MKV/WebM" for ffmpeg's "matroska", "MP4" for "mp4"."""
    return _FORMAT_NAMES.get(container, container.upper())


def check_video(info: MediaInfo, limits: VideoLimits | None = None) -> list[Finding]:
    """Every way ``info`` breaks ``limits`` (empty when the clip can be sent as it is)."""
    limits = limits or VideoLimits()
    found: list[Finding] = []

    def error(message: str, fix: str) -> None:
        found.append(Finding("error", "video", message, fix))

    if info.container not in limits.containers:
        accepted = " or ".join(c.upper() for c in limits.containers)
        error(f"Video is a {container_name(info.container)} file; {MODEL_NAME} accepts {accepted}.",
              "Convert it to MP4 (use Fix it).")
    span = f"{seconds(limits.min_seconds)}-{seconds(limits.max_seconds)} s"
    measured = measure(info.duration, limits.min_seconds, limits.max_seconds)
    if info.duration > limits.max_seconds:
        error(f"Video is {measured} s; {MODEL_NAME} accepts {span}.", trim_fix(limits))
    elif info.duration < limits.min_seconds:
        error(f"Video is {measured} s; {MODEL_NAME} accepts {span}.",
              f"Use a clip of at least {seconds(limits.min_seconds)} s (Fix it cannot make a clip longer).")
    sides = f"{limits.min_side}-{limits.max_side} px"
    for side, px in (("width", info.width), ("height", info.height)):
        shape = f"{info.width}x{info.height}"
        if px < limits.min_side:
            error(f"Video's {side} is {px} px ({shape}); "
                  f"{MODEL_NAME} accepts a width and height of {sides} each.",
                  "Scale it up (use Fix it) or use a higher-resolution clip.")
        elif px > limits.max_side:
            error(f"Video's {side} is {px} px ({shape}); "
                  f"{MODEL_NAME} accepts a width and height of {sides} each.",
                  "Scale it down (use Fix it).")
    if (rate := frame_rate_problem(info, limits)) is not None:
        error(*rate)
    if info.size_bytes > limits.max_bytes:
        error(f"Video is {human_size(info.size_bytes, limits.max_bytes)}; {MODEL_NAME} accepts at most "
              f"{human_size(limits.max_bytes)}.", "Re-encode it smaller (use Fix it).")
    return found


def trim_fix(limits: VideoLimits) -> str:
    """What the finding of a clip too long for one edit tells a page user to do (the API says it in
    its own words: a script has the ``segments`` argument, not the page's buttons)."""
    return f"Trim it to {seconds(limits.max_seconds)} s or less (use Fix it)."


def frame_rate_problem(info: MediaInfo, limits: VideoLimits) -> tuple[str, str] | None:
    """(message, fix) when the measured rate is outside the accepted range, else None. fal measures
    the average rate, so a variable-rate clip is judged by its average; "Fix it" re-times it to the
    nearest accepted constant rate, which keeps the motion and the duration."""
    fps = info.fps
    if limits.min_fps - FPS_TOLERANCE <= fps <= limits.max_fps + FPS_TOLERANCE:
        return None
    span = f"{limits.min_fps:g}-{limits.max_fps:g} fps"
    rate = (f"variable, {fps_text(fps)} fps on average" if info.vfr else f"{fps_text(fps)} fps")
    target = retime_target(info, limits)
    return (f"Video's frame rate is {rate}; {MODEL_NAME} accepts {span}.",
            f"Use Fix it to re-time it to a constant {target:g} fps (motion and duration are kept).")


def retime_target(info: MediaInfo, limits: VideoLimits) -> float:
    """The constant rate a clip is encoded at: its own (for a variable one the rate it was shot at),
    moved to the nearest accepted rate (23.976 -> 24, 15 -> 24, 120 -> 60)."""
    rate = info.constant_fps or info.fps
    if rate < limits.min_fps - FPS_TOLERANCE:
        return limits.min_fps
    if rate > limits.max_fps + FPS_TOLERANCE:
        return limits.max_fps
    return rate


def fps_text(fps: float) -> str:
    """23.976 -> "23.976", 24.0 -> "24", 20.571 -> "20.571": enough digits to tell 23.976 from 24."""
    return f"{fps:.3f}".rstrip("0").rstrip(".")


def measure(value: float, low: float, high: float) -> str:
    """A measured number with one decimal, or more when one would make it look within limits (a
    3.0 s that is really 2.97 s, a 10.1 s that is really 10.06 s): the sentence must not contradict
    itself."""
    if low <= value <= high:
        return f"{value:.1f}"
    for digits in (1, 2, 3):
        text = f"{value:.{digits}f}"
        if not low <= float(text) <= high:
            return text
    return f"{value:.3f}"
