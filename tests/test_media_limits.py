"""check_video(): every limit Kling O1 sets, each violation with its measured value, limit and fix,
all of them at once, for landscape and portrait clips."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.config import VideoLimits
from components.media.limits import check_video, human_size
from components.media.probe import MediaInfo, probe
from tests.mediagen import make_clip

MB = 1024 * 1024


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, MediaInfo]:
    d = tmp_path_factory.mktemp("limits")

    def clip(name: str, **kwargs) -> MediaInfo:  # flat colour: the picture does not matter here, speed does
        return probe(make_clip(d / name, source="color", **{"seconds": 4, "width": 1280, "height": 720,
                                                            **kwargs}))

    return {
        "hd": clip("hd.mp4"),
        "portrait": clip("portrait.mov", width=1080, height=1920),
        "rotated": clip("rotated.mp4", rotate=90),
        "sd_short": clip("sd.mp4", seconds=2, width=854, height=480),
        "long": clip("long.mp4", seconds=12),
        "mkv": clip("clip.mkv"),
    }


@pytest.mark.parametrize("name", ["hd", "portrait", "rotated"])
def test_acceptable_clips_pass(clips, name):
    assert check_video(clips[name], VideoLimits()) == []


def test_too_long_says_how_to_fix(clips):
    [finding] = check_video(clips["long"], VideoLimits())
    assert finding.level == "error" and finding.field == "video"
    assert str(finding) == "Video is 12.0 s; Kling O1 accepts 3-10 s. Trim it to 10 s or less (use Fix it)."


def test_short_and_small_are_both_reported(clips):
    findings = check_video(clips["sd_short"], VideoLimits())
    assert [f.message for f in findings] == [
        "Video is 2.0 s; Kling O1 accepts 3-10 s.",
        "Video's short side is 480 px (854x480); Kling O1 needs at least 720 px.",
    ]
    assert all(f.fix for f in findings)


@pytest.mark.parametrize(("width", "height"), [(3840, 2160), (2160, 3840)])
def test_long_side_landscape_and_portrait(clips, width, height):
    [finding] = check_video(replace(clips["hd"], width=width, height=height), VideoLimits())
    assert finding.message == (f"Video's long side is 3840 px ({width}x{height}); "
                               "Kling O1 accepts at most 2160 px.")
    assert "Scale it down" in finding.fix


@pytest.mark.parametrize(("width", "height"), [(854, 480), (480, 854)])
def test_short_side_landscape_and_portrait(clips, width, height):
    [finding] = check_video(replace(clips["hd"], width=width, height=height), VideoLimits())
    assert "short side is 480 px" in finding.message and f"({width}x{height})" in finding.message


def test_container_by_content(clips):
    [finding] = check_video(clips["mkv"], VideoLimits())
    assert finding.message == "Video is a MKV/WebM file; Kling O1 accepts MP4 or MOV."
    assert "Convert it to MP4" in finding.fix


def test_file_size(clips):
    [finding] = check_video(replace(clips["hd"], size_bytes=250 * MB + MB // 2), VideoLimits())
    assert finding.message == "Video is 250.5 MB; Kling O1 accepts at most 200 MB."


def test_every_violation_at_once(clips):
    bad = replace(clips["mkv"], duration=14.0, width=4000, height=600, size_bytes=300 * MB)
    findings = check_video(bad, VideoLimits())
    assert len(findings) == 5
    assert {f.field for f in findings} == {"video"} and all(f.fix for f in findings)
    text = " | ".join(str(f) for f in findings)
    for fact in ("MKV/WebM", "14.0 s", "short side is 600 px", "long side is 4000 px", "300 MB"):
        assert fact in text


def test_limits_come_from_settings(clips):
    strict = VideoLimits(max_seconds=3.5, min_side=1080)
    messages = [f.message for f in check_video(clips["hd"], strict)]
    assert messages == ["Video is 4.0 s; Kling O1 accepts 3-3.5 s.",
                        "Video's short side is 720 px (1280x720); Kling O1 needs at least 1080 px."]


def test_human_size():
    assert human_size(200 * MB) == "200 MB"
    assert human_size(int(12.34 * MB)) == "12.3 MB"
    assert human_size(640 * 1024) == "640 KB"
    assert human_size(500) == "500 bytes"
