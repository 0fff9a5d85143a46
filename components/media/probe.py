"""What a video file really is: size as displayed, timing, codecs and container, read by content.

One ``ffmpeg -i`` header read gives streams, codecs, rotation and duration. Frame timing (VFR,
frame count) comes from the MP4/MOV index for the containers Kling accepts, and from a packet
scan (``-c copy`` to ``framecrc``, no decoding) in the same ffmpeg call for anything else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from components.errors import MediaError
from components.media import mp4index
from components.media.ffmpeg import media_error, run
from components.units import human_duration, human_size

_INPUT = re.compile(r"^Input #0, (\S+), from ", re.M)
_BRAND = re.compile(r"major_brand\s*:\s*(\S+)")
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO = re.compile(r"^\s*Stream #0:\d+\S*: Video: (.*)$", re.M)
_AUDIO = re.compile(r"^\s*Stream #0:\d+\S*: Audio: (\w+)", re.M)
_SIZE = re.compile(r"^(\d+)x(\d+)\b")
_RATE = re.compile(r"^([\d.]+)(k?) (fps|tbr)$")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees", re.I)
_TIMEBASE = re.compile(r"^#tb 0: (\d+)/(\d+)", re.M)
_PACKET = re.compile(r"^0,\s*(-?\d+),\s*(-?\d+),\s*(\d+),", re.M)


@dataclass(frozen=True)
class MediaInfo:
    """A probed video. ``width``/``height`` are as displayed, i.e. after rotation metadata."""

    path: Path
    container: str  # by content: "mp4", "mov", "m4a", "3gp", "matroska", "avi", ...
    duration: float  # seconds
    width: int
    height: int
    coded_width: int  # as stored in the stream, before rotation
    coded_height: int
    rotation: int  # display rotation, degrees counter-clockwise: 0, 90, 180 or 270
    fps: float  # average frame rate
    nominal_fps: float  # the rate it was shot at (ffmpeg's tbr): the target when made constant
    vfr: bool  # frame durations vary (phone recordings, screen captures, dropped frames)
    video_codec: str  # ffmpeg's name: "h264", "hevc", "vp9", ...
    pixel_format: str  # "yuv420p", "yuv422p10le", ...
    audio_codec: str | None  # None: no audio stream
    size_bytes: int
    frame_count: int | None  # from the index or the packet scan; None if neither was readable

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def constant_fps(self) -> float:
        """The rate to encode at: the clip's own, or for a variable one the rate it was shot at."""
        return self.nominal_fps if self.vfr and self.nominal_fps else self.fps

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def long_side(self) -> int:
        return max(self.width, self.height)

    def describe(self) -> str:
        """One line for the UI: "1920x1080 h264 mp4, 12.0 s, 25 fps, audio aac, 12.1 MB"."""
        rate = f"{self.fps:g} fps" + (" (variable)" if self.vfr else "")
        audio = f"audio {self.audio_codec}" if self.audio_codec else "no audio"
        return (f"{self.width}x{self.height} {self.video_codec} {self.container}, "
                f"{human_duration(self.duration)}, {rate}, {audio}, {human_size(self.size_bytes)}")


def probe(path: Path | str) -> MediaInfo:
    """Read ``path``'s facts without decoding it. Raises ``MediaError`` naming the file when it is
    missing, not a video, audio-only or cut off.

    Remembered per file version (path, size, mtime): the page probes a clip when it arrives, the
    edit service again on Generate and once more for the bill, and each is the same answer."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:  # strerror, not str(e): that would show the server's path
        raise media_error(path, "read", e.strerror or "") from None
    return _probe(path, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _probe(path: Path, size: int, mtime_ns: int) -> MediaInfo:
    try:
        isobmff = mp4index.looks_like_isobmff(path)
    except OSError as e:
        raise media_error(path, "read", e.strerror or "") from None
    if size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes).", fix="Upload the video again.", field="video")
    # The index is judged before ffmpeg reads the file: ffmpeg allocates an entry per sample the
    # index claims, so a 60 KB file claiming 50 million samples would cost it gigabytes.
    index = _index_timing(path) if isobmff else None
    args = ["-i", str(path)]
    if not isobmff:
        args += ["-map", "0:v:0?", "-c", "copy", "-f", "framecrc", "-"]
    proc = run(args, file=path, action="read", check=False)
    header = proc.stderr
    demuxer = _INPUT.search(header)
    if demuxer is None:
        raise media_error(path, "read", header)
    if demuxer[1].endswith("_pipe") or demuxer[1] == "image2":  # ffmpeg reads a picture as a 1-frame stream
        kind = demuxer[1].removesuffix("_pipe").upper()
        raise MediaError(f"{path.name} is a still image ({kind}), not a video.",
                         fix="Upload a 3-10.05 s MP4 or MOV clip; attach pictures as reference images.",
                         field="video")
    video = _video_stream(header)
    if video is None:
        raise MediaError(f"{path.name} has no video stream (it holds {_streams_summary(header)}).",
                         fix="Upload a video file (MP4 or MOV) instead.", field="video")

    frame_runs, frames, timed_seconds = _timing(path, isobmff, index, proc.stdout)
    duration = _duration(header)
    if duration is None:
        duration = timed_seconds
    if not duration:
        raise MediaError(f"Could not tell how long {path.name} is: its header has no duration.",
                         fix="Re-export it as MP4 (H.264) and upload it again.", field="video")

    codec, pixel_format, (coded_w, coded_h), rates = _video_facts(video)
    if not coded_w:
        raise media_error(path, "read the picture size of", header)
    rotation = _rotation(header)
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    # The timing's average beats the header's: Matroska headers state a nominal rate as "fps".
    fps = frames / timed_seconds if frames and timed_seconds else rates.get("fps", 0.0)
    return MediaInfo(
        path=path, container=_container(demuxer[1], header), duration=duration,
        width=width, height=height, coded_width=coded_w, coded_height=coded_h, rotation=rotation,
        fps=round(fps, 3), nominal_fps=round(rates.get("tbr", fps), 3), vfr=runs_vary(frame_runs),
        video_codec=codec, pixel_format=pixel_format, audio_codec=_audio_codec(header),
        size_bytes=size, frame_count=frames,
    )


def is_variable(deltas: Sequence[int]) -> bool:
    """Whether frame durations vary beyond timestamp rounding (see ``runs_vary``)."""
    return runs_vary(_runs(deltas))


def runs_vary(runs: Sequence[tuple[int, int]]) -> bool:
    """Whether frame durations, given as ``(count, duration)`` runs, vary beyond timestamp rounding.

    The last frame is ignored (muxers often give it an odd duration), a tick either way is rounding
    (30 fps in milliseconds alternates 33/34), and a clip counts as variable once more than 1% of
    its frames deviate: one glitch does not make a clip VFR, a phone's wandering rate does.
    Works on runs so a clip's index is judged without expanding it frame by frame.
    """
    body = [list(r) for r in runs if r[0] > 0]
    if body:
        body[-1][0] -= 1
    body = [(n, d) for n, d in body if n > 0]
    total = sum(n for n, _ in body)
    if total < 2:
        return False
    typical = (_nth(body, (total - 1) // 2) + _nth(body, total // 2)) / 2  # the median
    tolerance = max(1.0, 0.02 * typical)
    odd = sum(n for n, d in body if abs(d - typical) > tolerance)
    return odd >= 2 and odd > 0.01 * total


def _nth(runs: list[tuple[int, int]], index: int) -> int:
    """The ``index``-th smallest duration of the frames the runs describe."""
    for n, d in sorted(runs, key=lambda r: r[1]):
        if index < n:
            return d
        index -= n
    raise IndexError(index)


def _runs(deltas: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for d in deltas:
        if runs and runs[-1][1] == d:
            runs[-1] = (runs[-1][0] + 1, d)
        else:
            runs.append((1, d))
    return runs


def _timing(path: Path, isobmff: bool, index: mp4index.TrackTiming | None,
            packets: str) -> tuple[list[tuple[int, int]], int | None, float | None]:
    """((count, duration) runs, frame count, seconds) from the index, else from a packet scan."""
    if isobmff:
        if index is not None:
            return list(index.runs), index.frames, index.seconds
        # Fragmented MP4: the timing is spread over the fragments; scan the packets instead.
        packets = run(["-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"],
                      file=path, action="read").stdout
    found = [(int(m[2]), int(m[3])) for m in _PACKET.finditer(packets)]  # (pts, duration) per packet
    if not found:
        return [], None, None
    pts, last = sorted(p for p, _ in found), found[-1][1]
    deltas = [b - a for a, b in pairwise(pts)] + [last]
    tb = _TIMEBASE.search(packets)
    seconds = (pts[-1] + last - pts[0]) * int(tb[1]) / int(tb[2]) if tb else None
    return _runs(deltas), len(pts), seconds


def _index_timing(path: Path) -> mp4index.TrackTiming | None:
    """The MP4/MOV index's timing, with a cut-off or implausible index as the user's sentence."""
    try:
        return mp4index.video_timing(path)
    except mp4index.Truncated as cut:
        raise MediaError(
            f"{path.name} is incomplete: it holds {human_size(cut.actual)} of the "
            f"{human_size(cut.expected)} its index describes, so the upload or download was cut off.",
            fix="Upload the complete file again.", field="video") from None
    except mp4index.ImplausibleIndex as bad:
        raise MediaError(
            f"{path.name} has a damaged or forged index: it claims {bad.claimed:,} samples, {bad.reason} "
            f"(at most {bad.limit:,} here), so it was not read further.",
            fix="Re-export the clip from your editor as MP4 (H.264) and upload it again.",
            field="video") from None


def _video_facts(description: str) -> tuple[str, str, tuple[int, int], dict[str, float]]:
    """(codec, pixel format, coded size, {"fps"/"tbr": rate}) from ffmpeg's stream line, e.g.
    "h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709), 1920x1080 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr"."""
    fields = _split_top_level(description)
    codec = fields[0].split()[0]
    pixel_format = fields[1].split("(")[0] if len(fields) > 1 else ""
    size = (0, 0)
    rates: dict[str, float] = {}
    for part in fields[2:]:
        if (m := _SIZE.match(part)) and size == (0, 0):
            size = (int(m[1]), int(m[2]))
        elif m := _RATE.match(part):
            rates[m[3]] = float(m[1]) * (1000 if m[2] else 1)
    return codec, pixel_format, size, rates


def _video_stream(header: str) -> str | None:
    """The first real video stream's description (cover art is a "video" stream too: skip it)."""
    return next((m[1] for m in _VIDEO.finditer(header) if "(attached pic)" not in m[1]), None)


def _audio_codec(header: str) -> str | None:
    m = _AUDIO.search(header)
    return m[1] if m else None


def _duration(header: str) -> float | None:
    m = _DURATION.search(header)
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None


def _rotation(header: str) -> int:
    m = _ROTATION.search(header)
    return round(float(m[1]) / 90) * 90 % 360 if m else 0


def _container(demuxers: str, header: str) -> str:
    """ffmpeg reads MP4 and MOV with one demuxer ("mov,mp4,m4a,..."): the brand tells them apart."""
    if not demuxers.startswith("mov,"):
        return demuxers.split(",")[0]
    m = _BRAND.search(header)
    brand = m[1].lower() if m else "qt"  # no ftyp box at all: classic QuickTime
    if brand == "qt":
        return "mov"
    if brand.startswith("m4a"):
        return "m4a"
    if brand.startswith(("3gp", "3g2")):
        return "3gp"
    return "mp4"


def _streams_summary(header: str) -> str:
    kinds = re.findall(r"Stream #0:\d+\S*: (\w+): (\w+)", header)
    return ", ".join(f"{kind.lower()} ({codec})" for kind, codec in kinds) or "no streams"


def _split_top_level(text: str) -> list[str]:
    """Split on the commas that are not inside brackets ("yuv420p(tv, bt709)" is one field)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts
