"""A small still of a clip, for history: made once by the job runner, read by the page.

The page lists history on every refresh; decoding there would put a decode per job on a click. So
the runner makes the still when a job's input arrives and when its result is on disk, and the page
only looks for the file beside the clip. The picture is decoded in this process through PyAV (no
ffmpeg to start: 0.03 CPU-s instead of 0.06-0.19 for the binary on a busy machine) and turned
upright as a player shows it.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from components.atomic import atomic_output
from components.errors import MediaError
from components.media.ffmpeg import even
from components.media.reader import open_media, video_stream

SUFFIX = ".thumb.jpg"
WIDTH = 240
AT_S = 0.5  # past a fade-in from black, yet inside the shortest clip the studio takes
QUALITY = 85
# PIL's turns (counter-clockwise, as FFmpeg states a display rotation) by quarter turns.
_TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def thumbnail_path(video: Path) -> Path:
    """Where the still of ``video`` lives (beside it, so retention removes both together)."""
    return Path(video).parent / f"{Path(video).stem}{SUFFIX}"


def make_thumbnail(video: Path) -> Path | None:
    """The still of ``video`` (AT_S in, or its last picture if shorter; WIDTH px wide), made if
    missing; None if it cannot be read."""
    thumb = thumbnail_path(video)
    if thumb.exists():
        return thumb
    try:
        picture = _picture_at(Path(video), AT_S)
    except MediaError:
        return None
    if picture is None:
        return None
    with atomic_output(thumb) as part:
        picture.save(part, "JPEG", quality=QUALITY)
    return thumb


def _picture_at(video: Path, seconds: float) -> Image.Image | None:
    """The first picture shown at or after ``seconds`` (the last one of a shorter clip), WIDTH
    px wide as shown, upright. FFmpeg's scaler shrinks it while converting it to RGB, so a large
    frame is never converted whole."""
    with open_media(video, "make a thumbnail of") as container:
        stream = video_stream(container)
        if stream is None:
            return None
        stream.codec_context.thread_count = 1
        if seconds > 0 and stream.time_base:
            container.seek(int(seconds / stream.time_base), stream=stream, backward=True)
        shown = None
        for frame in container.decode(stream):
            shown = frame
            if frame.time is not None and frame.time >= seconds - 1e-3:
                break
        if shown is None:
            return None
        turn = _TURNS.get(round(shown.rotation / 90) * 90 % 360)
        sideways = turn in (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270)
        across, along = (shown.height, shown.width) if sideways else (shown.width, shown.height)
        tall = even(WIDTH * along / across)
        picture = shown.to_image(width=tall if sideways else WIDTH, height=WIDTH if sideways else tall,
                                 interpolation="BICUBIC")
        return picture.transpose(turn) if turn is not None else picture


def existing_thumbnail(video: Path | None) -> Path | None:
    """The still of ``video`` if the runner made one."""
    if video is None:
        return None
    thumb = thumbnail_path(video)
    return thumb if thumb.is_file() else None
