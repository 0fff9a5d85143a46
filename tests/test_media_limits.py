"""check_video(): every limit Kling O1 sets, each violation with its measured value, limit and fix,
all of them at once, for landscape and portrait clips."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.config import VideoLimits
from components.media.limits import check_video
from components.media.probe import MediaInfo, probe
from components.ui.video_panel import panel_html
from components.units import human_size
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
    assert str(finding) == ("Video is 12.0 s; Kling O1 accepts 3-10.05 s. Trim it to 10.05 s or less "
                            "(use Fix it).")


def test_short_and_small_are_both_reported(clips):
    findings = check_video(clips["sd_short"], VideoLimits())
    assert [f.message for f in findings] == [
        "Video is 2.0 s; Kling O1 accepts 3-10.05 s.",
        "Video's height is 480 px (854x480); Kling O1 accepts a width and height of 720-2160 px each.",
    ]
    assert all(f.fix for f in findings)


@pytest.mark.parametrize(("width", "height"), [(3840, 2160), (2160, 3840)])
def test_long_side_landscape_and_portrait(clips, width, height):
    [finding] = check_video(replace(clips["hd"], width=width, height=height), VideoLimits())
    side = "width" if width > height else "height"
    assert finding.message == (f"Video's {side} is 3840 px ({width}x{height}); "
                               "Kling O1 accepts a width and height of 720-2160 px each.")
    assert "Scale it down" in finding.fix


@pytest.mark.parametrize(("width", "height"), [(854, 480), (480, 854)])
def test_short_side_landscape_and_portrait(clips, width, height):
    [finding] = check_video(replace(clips["hd"], width=width, height=height), VideoLimits())
    side = "height" if width > height else "width"
    assert f"{side} is 480 px" in finding.message and f"({width}x{height})" in finding.message


def test_container_by_content(clips):
    [finding] = check_video(clips["mkv"], VideoLimits())
    assert finding.message == "Video is a MKV/WebM file; Kling O1 accepts MP4 or MOV."
    assert "Convert it to MP4" in finding.fix


def test_the_preflight_names_the_container_as_people_do(clips):
    """The pre-flight's File row says what the user's file is called, not ffmpeg's "matroska"."""
    info = clips["mkv"]
    assert f"<dt>File</dt><dd>{human_size(info.size_bytes)}, MKV/WebM</dd>" in panel_html(info, [])


def test_file_size(clips):
    [finding] = check_video(replace(clips["hd"], size_bytes=250 * MB + MB // 2), VideoLimits())
    assert finding.message == "Video is 250.5 MB; Kling O1 accepts at most 200 MB."


def test_every_violation_at_once(clips):
    bad = replace(clips["mkv"], duration=14.0, width=4000, height=600, size_bytes=300 * MB)
    findings = check_video(bad, VideoLimits())
    assert len(findings) == 5
    assert {f.field for f in findings} == {"video"} and all(f.fix for f in findings)
    text = " | ".join(str(f) for f in findings)
    for fact in ("MKV/WebM", "14.0 s", "height is 600 px", "width is 4000 px", "300 MB"):
        assert fact in text


def test_limits_come_from_settings(clips):
    strict = VideoLimits(max_seconds=3.5, min_side=1080)
    messages = [f.message for f in check_video(clips["hd"], strict)]
    assert messages == ["Video is 4.0 s; Kling O1 accepts 3-3.5 s.",
                        "Video's height is 720 px (1280x720); Kling O1 accepts a width and height of "
                        "1080-2160 px each."]


def test_human_size():
    assert human_size(200 * MB) == "200 MB"
    assert human_size(int(12.34 * MB)) == "12.3 MB"
    assert human_size(640 * 1024) == "640 KB"
    assert human_size(500) == "500 bytes"
    assert human_size(5 * 1024 * MB) == "5 GB"
    assert human_size(200 * MB + 30_000, beside=200 * MB) == "200.03 MB"  # never "200 MB, over 200 MB"


@pytest.mark.parametrize(("seconds", "ok"), [(10.04, True), (10.05, True), (10.2, False), (10.06, False),
                                             (3.0, True), (2.97, False)])
def test_duration_is_judged_against_the_schemas_3_to_10_05_s(clips, seconds, ok):
    findings = check_video(replace(clips["hd"], duration=seconds), VideoLimits())
    assert (findings == []) is ok
    if not ok:  # the measured value never reads as inside the range it is refused by
        assert findings[0].message.startswith(f"Video is {'2.97' if seconds < 3 else f'{seconds:.1f}'} s;")


@pytest.mark.parametrize(("fps", "vfr", "message", "target"), [
    (23.976, False, "Video's frame rate is 23.976 fps; Kling O1 accepts 24-60 fps.", 24),
    (15.0, False, "Video's frame rate is 15 fps; Kling O1 accepts 24-60 fps.", 24),
    (120.0, False, "Video's frame rate is 120 fps; Kling O1 accepts 24-60 fps.", 60),
    (20.571, True, "Video's frame rate is variable, 20.571 fps on average; Kling O1 accepts 24-60 fps.", 30),
])
def test_frame_rate_outside_24_to_60_names_the_measured_rate(clips, fps, vfr, message, target):
    info = replace(clips["hd"], fps=fps, nominal_fps=30.0 if vfr else fps, vfr=vfr)
    [finding] = check_video(info, VideoLimits())
    assert finding.message == message
    assert finding.fix == (f"Use Fix it to re-time it to a constant {target} fps "
                           "(motion and duration are kept).")


@pytest.mark.parametrize("fps", [24.0, 23.999, 25.0, 29.97, 59.94, 60.0])
def test_frame_rates_inside_the_range_pass(clips, fps):
    assert check_video(replace(clips["hd"], fps=fps, nominal_fps=fps), VideoLimits()) == []


def test_a_variable_rate_within_range_passes(clips):
    """fal judges the average: a phone's wandering 29.6 fps is fine as it is."""
    assert check_video(replace(clips["hd"], fps=29.6, nominal_fps=30.0, vfr=True), VideoLimits()) == []
