"""A small still of a clip, for history: made once by the job runner, read by the page.

The page lists history on every refresh; running ffmpeg there would put a decode per job on a
click. So the runner makes the still when a job's input arrives and when its result is on disk,
and the page only looks for the file beside the clip.
"""

from __future__ import annotations

from pathlib import Path

from components.errors import MediaError
from components.media.ffmpeg import run

SUFFIX = ".thumb.jpg"
WIDTH = 240


def thumbnail_path(video: Path) -> Path:
    """Where the still of ``video`` lives (beside it, so retention removes both together)."""
    return Path(video).parent / f"{Path(video).stem}{SUFFIX}"


def make_thumbnail(video: Path) -> Path | None:
    """The still of ``video`` (0.5 s in, WIDTH px wide), made if missing; None if it cannot be read."""
    thumb = thumbnail_path(video)
    if thumb.exists():
        return thumb
    try:
        run(["-loglevel", "error", "-y", "-ss", "0.5", "-i", str(video), "-frames:v", "1",
             "-vf", f"scale={WIDTH}:-2", str(thumb)], file=Path(video), action="make a thumbnail of")
    except MediaError:
        return None
    return thumb if thumb.exists() else None


def existing_thumbnail(video: Path | None) -> Path | None:
    """The still of ``video`` if the runner made one."""
    if video is None:
        return None
    thumb = thumbnail_path(video)
    return thumb if thumb.is_file() else None
