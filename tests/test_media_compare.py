"""side_by_side(): one labelled H.264 MP4, both clips at a common height, as long as the longer
one, at the edit's frame rate, with the audio of the edit only (told apart by their tones)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import psutil
import pytest

from components.errors import JobCancelled, MediaError
from components.media.compare import side_by_side
from components.media.ffmpeg import BACKGROUND_NICENESS
from components.media.probe import probe
from tests.mediagen import FFMPEG, make_clip, make_text_as


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("compare-src")
    black = {"seconds": 1, "height": 240, "source": "color", "audio": False}
    return {
        "original": make_clip(d / "original.mp4", seconds=3, width=640, height=360, fps=25, tone=440),
        "edited": make_clip(d / "edited.mov", seconds=2, width=320, height=240, fps=30, tone=880),
        "edited_silent": make_clip(d / "edited-silent.mp4", seconds=2, width=320, height=240, audio=False),
        "original_silent": make_clip(d / "original-silent.mp4", seconds=3, width=640, height=360,
                                     audio=False),
        "black_a": make_clip(d / "black-a.mp4", width=480, **black),
        "black_b": make_clip(d / "black-b.mp4", width=240, **black),
        "broken": make_text_as(d / "result.mp4"),
    }


def dominant_tone(path: Path) -> float:
    """The loudest frequency of the file's audio, in Hz."""
    raw = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "8000",
                          "-f", "s16le", "-"], capture_output=True, check=True).stdout
    samples = np.frombuffer(raw, np.int16).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * 8000 / len(samples))


def first_frame(path: Path, width: int, height: int) -> np.ndarray:
    raw = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width)


def test_sizes_duration_rate_and_edit_audio(clips, tmp_path):
    out = side_by_side(clips["original"], clips["edited"], tmp_path / "sbs.mp4")
    info = probe(out)
    # Common height is the smaller one (240); 640x360 becomes 426x240 (even), 320x240 stays.
    assert (info.width, info.height) == (426 + 320, 240)
    assert info.duration == pytest.approx(3.0, abs=0.1)  # the longer clip; the edit holds its last frame
    assert info.fps == pytest.approx(30, abs=0.1) and not info.vfr
    assert (info.container, info.video_codec, info.pixel_format) == ("mp4", "h264", "yuv420p")
    assert dominant_tone(out) == pytest.approx(880, abs=10)


def test_a_silent_edit_gives_a_silent_comparison_even_when_the_original_has_sound(clips, tmp_path):
    # keep-audio off: the edited clip is silent, so the side-by-side must not play the original's sound.
    out = side_by_side(clips["original"], clips["edited_silent"], tmp_path / "sbs.mp4")
    info = probe(out)
    assert not info.has_audio and info.duration == pytest.approx(3.0, abs=0.1)


def test_no_audio_when_neither_has_any(clips, tmp_path):
    out = side_by_side(clips["original_silent"], clips["edited_silent"], tmp_path / "sbs.mp4")
    info = probe(out)
    assert not info.has_audio and info.duration == pytest.approx(3.0, abs=0.1)


def test_labels_are_drawn_over_each_half(clips, tmp_path):
    out = side_by_side(clips["black_a"], clips["black_b"], tmp_path / "sbs.mp4", labels=("Before", "After"))
    frame = first_frame(out, 720, 240)
    band = frame[:40]
    assert band[:, :240].max() > 200 and band[:, 480:].max() > 200  # white text at each clip's top left
    assert frame[80:].max() < 40  # the rest stays the black of the clips


def test_unreadable_edit_names_the_file(clips, tmp_path):
    with pytest.raises(MediaError, match=r"result\.mp4"):
        side_by_side(clips["original"], clips["broken"], tmp_path / "sbs.mp4")
    assert not (tmp_path / "sbs.mp4").exists()


def test_the_render_runs_below_the_apps_own_priority(tmp_path):
    """Nobody waits to watch the side-by-side (the edit already plays): its ffmpeg yields the CPU
    to the serving of pages and clips. Read from the running ffmpeg at its first progress report,
    then cancelled (a clip long enough to be still encoding then)."""
    clip = make_clip(tmp_path / "long.mp4", seconds=8, width=640, height=360, audio=False)
    me = psutil.Process()
    seen: list[int] = []

    def on_progress(_: float) -> None:
        seen.extend(child.nice() for child in me.children() if "ffmpeg" in child.name())

    with pytest.raises(JobCancelled):
        side_by_side(clip, clip, tmp_path / "cmp.mp4", on_progress=on_progress, cancel=lambda: bool(seen))
    assert set(seen) == {min(19, me.nice() + BACKGROUND_NICENESS)}
