"""What a video file really is: size as displayed, timing, codecs and container, read by content.

Read in this process through PyAV (reader.py): the container's header gives streams, codecs and
duration; one decoded picture gives the pixel format and the display rotation (FFmpeg hands a
stream's display matrix to the frames it decodes, which is where PyAV reads it). Frame timing
(VFR, frame count) comes from the MP4/MOV index for the containers Kling accepts, read by the same
guard that judges the index before any decoder sees the file (mp4index.py), and from a packet
scan (packets.py, no decoding) for anything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import av.error
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from components.errors import MediaError
from components.media import mp4index
from components.media.ffmpeg import could_not, media_error
from components.media.packets import duration_runs, scan_packets
from components.media.reader import codec_name, open_media, streams_summary, video_stream
from components.units import human_duration, human_size

_FIRST_PICTURE_PACKETS = 16  # a stream that decodes nothing from this many packets is broken


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
    """Read ``path``'s facts, decoding one picture. Raises ``MediaError`` naming the file when it is
    missing, not a video, audio-only, cut off or undecodable.

    Nothing is remembered: a probe costs a few milliseconds in process, so a caller that needs the
    facts again either keeps the ``MediaInfo`` or asks again and gets the file as it is now."""
    path = Path(path)
    try:
        size = path.stat().st_size
        isobmff = mp4index.looks_like_isobmff(path)
    except OSError as e:  # strerror, not str(e): that would show the server's path
        raise media_error(path, "read", e.strerror or "") from None
    if size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes).", fix="Upload the video again.", field="video")
    # The index is judged before FFmpeg reads the file: FFmpeg allocates an entry per sample the
    # index claims, so a 60 KB file claiming 50 million samples would cost it gigabytes.
    index = _index_timing(path) if isobmff else None
    with open_media(path, "read") as container:
        demuxer = container.format.name
        if demuxer.endswith("_pipe") or demuxer == "image2":  # FFmpeg reads a picture as a 1-frame stream
            kind = demuxer.removesuffix("_pipe").upper()
            raise MediaError(f"{path.name} is a still image ({kind}), not a video.",
                             fix="Upload a 3-10.05 s MP4 or MOV clip; attach pictures as reference images.",
                             field="video")
        stream = video_stream(container)
        if stream is None:
            raise MediaError(f"{path.name} has no video stream (it holds {streams_summary(container)}).",
                             fix="Upload a video file (MP4 or MOV) instead.", field="video")
        codec = codec_name(stream)
        if codec is None:
            raise could_not(path, "read", "its video is in a format this server cannot decode")
        picture = _first_picture(path, container, stream)
        header_seconds = container.duration / 1_000_000 if container.duration else None
        average, nominal = stream.average_rate, stream.base_rate
        name = _container(demuxer, container.metadata)
        audio = next((codec_name(s) or "unknown" for s in container.streams.audio), None)

    if index is not None:
        frame_runs, frames, timed_seconds = list(index.runs), index.frames, index.seconds
    else:  # not MP4/MOV, or a fragmented MP4 whose timing is spread over its fragments
        packets = scan_packets(path, "read")
        frame_runs, frames, timed_seconds = list(packets.runs), len(packets.frames) or None, packets.seconds
    duration = header_seconds if header_seconds is not None else timed_seconds
    if not duration:
        raise MediaError(f"Could not tell how long {path.name} is: its header has no duration.",
                         fix="Re-export it as MP4 (H.264) and upload it again.", field="video")
    coded_w, coded_h = picture.width, picture.height
    rotation = round(picture.rotation / 90) * 90 % 360
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    # The timing's average beats the header's: Matroska headers state a nominal rate as the average.
    fps = frames / timed_seconds if frames and timed_seconds else float(average or 0)
    return MediaInfo(
        path=path, container=name, duration=duration,
        width=width, height=height, coded_width=coded_w, coded_height=coded_h, rotation=rotation,
        fps=round(fps, 3), nominal_fps=round(float(nominal or fps), 3), vfr=runs_vary(frame_runs),
        video_codec=codec, pixel_format=picture.format.name, audio_codec=audio,
        size_bytes=size, frame_count=frames,
    )


def _first_picture(path: Path, container: InputContainer, stream: VideoStream) -> VideoFrame:
    """The stream's first decodable picture, decoded on its own: one thread, and each packet
    drained at once rather than queued behind the decoder's reordering delay, so the probe pays
    for one frame. Its pixel format and rotation are what the whole stream carries."""
    stream.codec_context.thread_count = 1
    for i, packet in enumerate(container.demux(stream)):
        if i == _FIRST_PICTURE_PACKETS:
            break
        if packet.size == 0:  # the empty packet that ends the demux
            break
        try:
            pictures = stream.decode(packet) + stream.decode(None)
        except av.error.InvalidDataError:
            pictures = []  # a damaged packet: the next one may start a clean picture
        if pictures:
            return pictures[0]
        stream.codec_context.flush_buffers()  # drained: ready for the next packet
    raise could_not(path, "read", "none of its first pictures can be decoded, so its video data is "
                                  "damaged")


def is_variable(deltas: Sequence[int]) -> bool:
    """Whether frame durations vary beyond timestamp rounding (see ``runs_vary``)."""
    return runs_vary(duration_runs(deltas))


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


def _container(demuxers: str, metadata: Mapping[str, str]) -> str:
    """FFmpeg reads MP4 and MOV with one demuxer ("mov,mp4,m4a,..."): the brand tells them apart."""
    if not demuxers.startswith("mov,"):
        return demuxers.split(",")[0]
    brand = metadata.get("major_brand", "").strip().lower() or "qt"  # no ftyp box: classic QuickTime
    if brand == "qt":
        return "mov"
    if brand.startswith("m4a"):
        return "m4a"
    if brand.startswith(("3gp", "3g2")):
        return "3gp"
    return "mp4"
