"""probe(): facts read by content, sizes after rotation, VFR told apart from CFR, and every kind of
unreadable file turned into a MediaError that names it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.errors import MediaError
from components.media.ffmpeg import run
from components.media.probe import is_variable, probe
from tests.mediagen import make_audio, make_clip, make_image, make_text_as, make_truncated


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("probe")
    c = {
        "mp4": make_clip(d / "landscape.mp4", seconds=2, width=854, height=480),
        "mov": make_clip(d / "clip.mov", seconds=2, width=854, height=480),
        "long": make_clip(d / "long.mp4", seconds=12, width=320, height=240),
        # Sizes only: a flat colour encodes in no time.
        "4k": make_clip(d / "uhd.mp4", seconds=1, width=3840, height=2160, crf=45, audio=False,
                        source="color"),
        "portrait": make_clip(d / "portrait.mp4", seconds=1, width=1080, height=1920, crf=45,
                              source="color"),
        "rotated": make_clip(d / "rotated.mp4", seconds=2, width=640, height=360, rotate=90),
        "vfr": make_clip(d / "vfr.mp4", seconds=3, width=320, height=240, vfr=True),
        "vfr_mkv": make_clip(d / "vfr.mkv", seconds=3, width=320, height=240, vfr=True),
        "silent": make_clip(d / "silent.mp4", seconds=2, width=320, height=240, audio=False),
        "audio": make_audio(d / "voice.m4a"),
        "text": make_text_as(d / "notes.mp4"),
    }
    c["mp4_named_mov"] = Path(shutil.copy(c["mp4"], d / "really-mp4.mov"))
    c["truncated"] = make_truncated(c["mp4"], d / "cut.mp4")
    # A "+faststart" file cut after its index: ffmpeg -i reads its header without complaint.
    faststart = make_clip(d / "faststart.mp4", seconds=2, width=320, height=240)
    c["truncated_faststart"] = make_truncated(_faststart(faststart, d / "fs.mp4"), d / "cut-late.mp4",
                                              keep=0.6)
    return c


def _faststart(src: Path, out: Path) -> Path:
    run(["-loglevel", "error", "-y", "-i", str(src), "-c", "copy", "-movflags", "+faststart", str(out)],
        file=src, action="remux")
    return out


def test_mp4_facts(clips):
    info = probe(clips["mp4"])
    assert (info.container, info.video_codec, info.audio_codec) == ("mp4", "h264", "aac")
    assert (info.width, info.height, info.rotation) == (854, 480, 0)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.fps == 25 and not info.vfr
    assert info.frame_count == 50
    assert info.has_audio and info.pixel_format == "yuv420p"
    assert info.size_bytes == clips["mp4"].stat().st_size
    assert "854x480" in info.describe()


def test_container_is_read_from_content_not_extension(clips):
    assert probe(clips["mov"]).container == "mov"
    assert probe(clips["mp4_named_mov"]).container == "mp4"
    assert probe(clips["vfr_mkv"]).container == "matroska"


def test_durations_and_sizes(clips):
    assert probe(clips["long"]).duration == pytest.approx(12.0, abs=0.05)
    uhd = probe(clips["4k"])
    assert (uhd.width, uhd.height, uhd.long_side, uhd.short_side) == (3840, 2160, 3840, 2160)
    assert not uhd.has_audio and uhd.audio_codec is None
    portrait = probe(clips["portrait"])
    assert (portrait.width, portrait.height) == (1080, 1920)
    assert (portrait.short_side, portrait.long_side) == (1080, 1920)


def test_rotation_metadata_swaps_displayed_size(clips):
    info = probe(clips["rotated"])
    assert info.rotation == 90
    assert (info.coded_width, info.coded_height) == (640, 360)
    assert (info.width, info.height) == (360, 640)


@pytest.mark.parametrize("name", ["vfr", "vfr_mkv"])  # index (mp4) and packet scan (mkv) paths
def test_vfr_detected(clips, name):
    info = probe(clips[name])
    assert info.vfr
    assert info.fps < 25 and info.nominal_fps == 25 and info.constant_fps == 25
    assert info.frame_count is not None and 40 <= info.frame_count < 75


@pytest.mark.parametrize("name", ["mp4", "mov", "long", "rotated", "silent"])
def test_cfr_not_flagged(clips, name):
    assert not probe(clips[name]).vfr


def test_is_variable_tolerates_rounding_and_one_glitch():
    assert not is_variable([512] * 100)
    assert not is_variable([33, 34, 33] * 40)  # 30 fps in milliseconds
    assert not is_variable([512] * 100 + [1024] + [512] * 100)  # one dropped frame in 200
    assert not is_variable([512] * 50 + [7])  # odd last frame
    assert is_variable([512, 1024, 512, 1536] * 20)
    assert is_variable([3003, 2900, 3100, 3003, 3200] * 30)  # a phone's wandering rate


@pytest.mark.parametrize(("name", "words"), [
    ("truncated", "incomplete"),
    ("truncated_faststart", "incomplete"),
    ("text", "does not look like any video"),
    ("audio", "no video stream"),
])
def test_unreadable_media_names_the_file(clips, name, words):
    with pytest.raises(MediaError) as caught:
        probe(clips[name])
    message = str(caught.value)
    assert clips[name].name in message and words in message
    assert caught.value.field == "video" and caught.value.fix
    assert "Traceback" not in message and str(clips[name].parent) not in message


def test_missing_empty_and_folder(tmp_path):
    with pytest.raises(MediaError, match=r"gone\.mp4: the file does not exist"):
        probe(tmp_path / "gone.mp4")
    (tmp_path / "empty.mp4").touch()
    with pytest.raises(MediaError, match=r"empty\.mp4 is empty \(0 bytes\)"):
        probe(tmp_path / "empty.mp4")
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(MediaError, match=r"folder\.mp4: it is a folder") as caught:
        probe(tmp_path / "folder.mp4")
    assert str(tmp_path) not in str(caught.value)


def test_an_mp4_whose_index_never_arrived(tmp_path):
    """Whole boxes, but no ``moov``: FFmpeg cannot open it, and the sentence says why."""
    import struct

    ftyp = struct.pack(">I4s4sI8s", 24, b"ftyp", b"isom", 512, b"isomavc1")
    mdat = struct.pack(">I4s", 8 + 4096, b"mdat") + bytes(4096)
    (tmp_path / "upload.mp4").write_bytes(ftyp + mdat)
    with pytest.raises(MediaError, match=r"Could not read upload\.mp4: the file is incomplete: its index "
                                         r"is missing") as err:
        probe(tmp_path / "upload.mp4")
    assert str(tmp_path) not in str(err.value) and err.value.fix


@pytest.mark.parametrize("fmt, suffix", [("PNG", ".mp4"), ("JPEG", ".mov")])
def test_still_image_renamed_as_video(tmp_path, fmt, suffix):
    still = make_image(tmp_path / f"frame{suffix}", fmt=fmt)
    with pytest.raises(MediaError) as err:
        probe(still)
    assert f"frame{suffix} is a still image ({fmt}), not a video" in str(err.value)
    assert "reference images" in str(err.value)


_RSS_PROBE = """
import json, resource, sys
from components.errors import MediaError
from components.media.probe import probe
idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    probe(sys.argv[1]); said = ""
except MediaError as error:
    said = str(error)
print(json.dumps({"idle_kb": idle, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "ffmpeg_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "said": said}))
"""


@pytest.mark.parametrize("table", ["stts", "stsz"])
def test_index_bomb_costs_a_header_read_not_gigabytes(table, tmp_path):
    """A 60 KB MP4 whose index claims 50 million frames: refused with a sentence, and neither the
    probe nor ffmpeg allocates for the claimed count (measured in a fresh interpreter)."""
    import json
    import subprocess
    import sys

    from tests.mediagen import make_index_bomb

    source = make_clip(tmp_path / "src.mp4", seconds=1, width=320, height=240, audio=False)
    bomb = make_index_bomb(source, tmp_path / "bomb.mp4", samples=50_000_000, table=table)
    out = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(bomb)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    seen = json.loads(out)
    assert "50,000,000 samples" in seen["said"] and "Re-export" in seen["said"]
    assert seen["peak_kb"] - seen["idle_kb"] < 100 * 1024, seen
    assert seen["ffmpeg_kb"] < 100 * 1024, seen


def test_is_variable_reads_runs_without_expanding_them():
    from components.media.probe import runs_vary

    assert not runs_vary([(50_000_000, 512)])
    assert runs_vary([(10, 512), (10, 1024), (10, 512), (10, 1536)])
