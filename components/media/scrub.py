"""A clip as it may leave the studio: its pictures and sound, without what the device wrote about it.

A phone clip carries its GPS position, the device's make and model, a title and creation times in
the container's metadata (QuickTime keys, udta atoms, per-track tags), and often a timed-metadata
or timecode track beside the picture. None of it is picture or sound, and none of it may leave the
studio with the clip: not to fal, not on a share page, not in a download.

So a clip that leaves is remuxed: a stream copy (no re-encode: the same frames and samples, in a
fraction of a second for any size) of its video streams (not an attached cover picture) and audio
streams, without global, stream or chapter metadata, in ffmpeg's bit-exact mode (no encoder tag).
The display rotation is not metadata but the track's display matrix, which the copy keeps, so a
portrait clip stays portrait. The container stays what it was (MOV or MP4), with its index first.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from components.media.ffmpeg import MP4_ARGS, run

SCRUB_ARGS: tuple[str, ...] = ("-map", "0:V", "-map", "0:a?", "-c", "copy", "-map_metadata", "-1",
                               "-map_chapters", "-1", "-fflags", "+bitexact")


def scrubbed(source: Path, out_dir: Path) -> Path:
    """``source`` remuxed without its metadata into ``out_dir`` under its own name (written whole
    under a private name first, so a failure leaves nothing behind); raises ``MediaError``."""
    source, out_dir = Path(source), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / source.name
    container = "mov" if source.suffix.lower() == ".mov" else "mp4"
    part = out_dir / f".{uuid.uuid4().hex[:8]}.part.{container}"
    try:
        run(["-i", str(source), *SCRUB_ARGS, *MP4_ARGS, "-f", container, "-y", str(part)],
            file=source, action="remove the metadata from")
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return out
