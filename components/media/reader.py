"""Media files read in this process through PyAV: FFmpeg's own libraries, bundled in the ``av``
wheel, so there is no ffmpeg to start and no text to parse.

A probe that spawned ``ffmpeg -i`` paid 20-35 ms of process start-up and then had to read facts
out of a log meant for people; here streams, packets and frames arrive as values, with their
timestamps. Every error PyAV raises becomes a ``MediaError`` that names the file and says what to
do, worded as for the ffmpeg binary (ffmpeg.py), because the user reads it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.stream import Disposition, Stream
from av.video.stream import VideoStream

from components.errors import MediaError
from components.media import mp4index
from components.media.ffmpeg import could_not, explain

# Opening a file reads its header and then, to fill in what a header may lack (the pixel format)
# and to guess the decoder's delay, decodes up to 7 frames: 17 ms for a 4K clip. Nothing here needs
# that: whoever wants a picture decodes one. Skipping it leaves the demuxer reading packets only.
_HEADER_ONLY = {"skip_frame": "all"}
_NOT_MEDIA = "its content does not look like any video format"
_NO_INDEX = ("the file is incomplete: its index is missing, so the upload or download was probably "
             "cut off")


@contextlib.contextmanager
def open_media(path: Path, action: str) -> Iterator[InputContainer]:
    """``path`` opened for reading; any FFmpeg error while the block runs (opening, demuxing,
    decoding) is raised as the ``MediaError`` "Could not <action> <name>: <why>."."""
    path = Path(path)
    opened = False
    try:
        with av.open(str(path), options=_HEADER_ONLY, metadata_errors="replace") as container:
            opened = True
            yield container
    except av.error.FFmpegError as error:
        raise could_not(path, action, _reason(path, error, opened)) from None


def video_stream(container: InputContainer) -> VideoStream | None:
    """The first real video stream: cover art is a one-picture "video" stream too, and is skipped."""
    return next((s for s in container.streams.video if not s.disposition & Disposition.attached_pic), None)


def codec_name(stream: Stream) -> str | None:
    """FFmpeg's name of the stream's format ("h264", "av1"), not of the decoder that reads it
    ("libdav1d"); None when this FFmpeg has no decoder for it."""
    return stream.codec_context.codec.canonical_name if stream.codec_context else None


def streams_summary(container: InputContainer) -> str:
    """What the file holds, for a message: "audio (aac), data (bin_data)"."""
    parts = [f"{s.type} ({codec_name(s) or 'unknown codec'})" for s in container.streams]
    return ", ".join(parts) or "no streams"


def failure(path: Path, action: str, error: av.error.FFmpegError) -> MediaError:
    """The user's sentence for an FFmpeg error met while doing ``action`` with ``path`` open (for
    work done outside ``open_media``'s block, such as encoding what was read from it)."""
    return could_not(path, action, _reason(path, error, opened=True))


def _reason(path: Path, error: av.error.FFmpegError, opened: bool) -> str:
    """Why, in the user's words. Data FFmpeg cannot make sense of before the file is even open
    means it is no video at all, or an MP4/MOV whose index never arrived."""
    if not opened and isinstance(error, av.error.InvalidDataError):
        with contextlib.suppress(OSError):
            if mp4index.looks_like_isobmff(path):
                return _NO_INDEX
        return _NOT_MEDIA
    # strerror, not str(error): that one holds the server's path.
    return explain(error.strerror or type(error).__name__)
