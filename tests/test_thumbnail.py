"""History's still of a clip, decoded through PyAV: the picture ffmpeg's own ``-ss 0.5 -frames:v 1``
would give, turned upright as a player shows it, and no file at all for what cannot be read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from components.media.thumbnail import WIDTH, make_thumbnail, thumbnail_path
from tests.mediagen import FFMPEG, make_clip, make_text_as, make_truncated


def _gray(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("L"), dtype=float)


@pytest.mark.parametrize("rotate", [None, 90, 180, 270])
def test_the_still_is_ffmpegs_picture_half_a_second_in_upright(tmp_path, rotate):
    clip = make_clip(tmp_path / "clip.mp4", seconds=2, width=640, height=360, fps=25, rotate=rotate)
    ours = make_thumbnail(clip)
    reference = tmp_path / "reference.jpg"
    subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-ss", "0.5", "-i", str(clip), "-frames:v", "1",
                    "-vf", f"scale={WIDTH}:-2", str(reference)], check=True)  # ffmpeg turns it upright
    assert ours == thumbnail_path(clip)
    mine, theirs = _gray(ours), _gray(reference)
    assert mine.shape == theirs.shape == ((426, 240) if rotate in (90, 270) else (136, 240))
    assert np.abs(mine - theirs).mean() < 4  # the same frame: testsrc2 moves a lot in 1/25 s


def test_a_clip_shorter_than_half_a_second_gives_its_last_picture(tmp_path):
    clip = make_clip(tmp_path / "blink.mp4", seconds=0.2, width=320, height=240, fps=25, audio=False)
    thumb = make_thumbnail(clip)
    assert thumb is not None and _gray(thumb).shape == (180, 240)


@pytest.mark.parametrize("broken", ["text", "truncated"])
def test_what_cannot_be_read_has_no_still_and_leaves_no_file(tmp_path, broken):
    clip = make_clip(tmp_path / "clip.mp4", seconds=2, width=640, height=360, fps=25)
    bad = (make_text_as(tmp_path / "bad.mp4") if broken == "text"
           else make_truncated(clip, tmp_path / "bad.mp4", keep=0.3))
    assert make_thumbnail(bad) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "clip.mp4"]


def test_a_still_is_made_once(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", seconds=2, width=640, height=360, fps=25)
    thumb = make_thumbnail(clip)
    made = thumb.stat().st_mtime_ns
    assert make_thumbnail(clip) == thumb and thumb.stat().st_mtime_ns == made
