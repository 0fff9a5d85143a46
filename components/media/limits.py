"""Pre-flight check of a probed video against what Kling O1 accepts.

Every violation is reported at once, each with the measured value, the limit and the fix, so the
user fixes everything in one go instead of meeting the rules one failed upload at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config import VideoLimits
from components.errors import Finding

if TYPE_CHECKING:
    from components.media.probe import MediaInfo

MODEL = "Kling O1"  # how messages name the model
_MB = 1024 * 1024  # the limit "200 MB" is 200 MiB, so sizes are shown in the same unit
_FORMAT_NAMES = {"matroska": "MKV/WebM", "mpegts": "MPEG-TS"}  # ffmpeg's demuxer -> what users call it


def check_video(info: MediaInfo, limits: VideoLimits | None = None) -> list[Finding]:
    """Every way ``info`` breaks ``limits`` (empty when the clip can be sent as it is)."""
    limits = limits or VideoLimits()
    found: list[Finding] = []

    def error(message: str, fix: str) -> None:
        found.append(Finding("error", "video", message, fix))

    if info.container not in limits.containers:
        accepted = " or ".join(c.upper() for c in limits.containers)
        name = _FORMAT_NAMES.get(info.container, info.container.upper())
        error(f"Video is a {name} file; {MODEL} accepts {accepted}.",
              "Convert it to MP4 (use Fix it).")
    span = f"{seconds(limits.min_seconds)}-{seconds(limits.max_seconds)} s"
    if info.duration > limits.max_seconds:
        error(f"Video is {info.duration:.1f} s; {MODEL} accepts {span}.",
              f"Trim it to {seconds(limits.max_seconds)} s or less (use Fix it).")
    elif info.duration < limits.min_seconds:
        error(f"Video is {info.duration:.1f} s; {MODEL} accepts {span}.",
              f"Use a clip of at least {seconds(limits.min_seconds)} s (Fix it cannot make a clip longer).")
    shape = f"{info.width}x{info.height}"
    if info.short_side < limits.min_side:
        error(f"Video's short side is {info.short_side} px ({shape}); {MODEL} needs at least "
              f"{limits.min_side} px.", "Scale it up (use Fix it) or use a higher-resolution clip.")
    if info.long_side > limits.max_side:
        error(f"Video's long side is {info.long_side} px ({shape}); {MODEL} accepts at most "
              f"{limits.max_side} px.", "Scale it down (use Fix it).")
    if info.size_bytes > limits.max_bytes:
        error(f"Video is {human_size(info.size_bytes)}; {MODEL} accepts at most "
              f"{human_size(limits.max_bytes)}.", "Re-encode it smaller (use Fix it).")
    return found


def human_size(n: int) -> str:
    """Bytes in the unit the limits use: "200 MB" (MiB), "12.3 MB", "640 KB"."""
    if n >= _MB:
        return f"{n / _MB:.1f}".removesuffix(".0") + " MB"
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def seconds(value: float) -> str:
    """A limit in seconds without a needless ".0": 3 -> "3", 2.5 -> "2.5"."""
    return f"{value:g}"
