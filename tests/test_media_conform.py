"""conform()/plan_for(): every output re-probes as a clip Kling O1 accepts, and the change list
says in plain words what was done."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from components.config import VideoLimits
from components.errors import InputError, JobCancelled, MediaError
from components.media.conform import ConformPlan, choose_cut, conform, fit_size, plan_for
from components.media.limits import check_video
from components.media.probe import probe
from tests.mediagen import make_clip, make_truncated

pytestmark = pytest.mark.encodes  # seconds of encoding: run before the quick modules

LIMITS = VideoLimits()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("conform-src")
    flat = {"source": "color"}  # flat colour encodes in no time where the picture does not matter
    c = {
        "long": make_clip(d / "long.mp4", seconds=12, width=320, height=240, **flat),
        "uhd": make_clip(d / "uhd.mp4", seconds=1, width=3840, height=2160, audio=False, **flat),
        "rotated": make_clip(d / "rotated.mp4", seconds=3, width=1280, height=720, rotate=90, **flat),
        "vfr": make_clip(d / "vfr.mp4", seconds=4, width=1280, height=720, vfr=True),
        "mov": make_clip(d / "clip.mov", seconds=3, width=1280, height=720, **flat),
        "silent": make_clip(d / "silent.mp4", seconds=3, width=1280, height=720, audio=False, **flat),
        "busy": make_clip(d / "busy.mp4", seconds=3, width=640, height=360, crf=18),
        "short": make_clip(d / "short.mp4", seconds=2, width=1280, height=720, **flat),
        # Frame rates outside 24-60 fps; small and flat: what matters is the timing.
        "f23976": make_clip(d / "film.mp4", seconds=3.5, fps="24000/1001", audio=False, **flat),
        "f15": make_clip(d / "screen.mp4", seconds=3.5, fps=15, audio=False, **flat),
        "f120": make_clip(d / "slowmo.mp4", seconds=3.5, fps=120, audio=False, **flat),
        "vfr_slow": make_clip(d / "capture.mp4", seconds=3.5, fps=30, vfr=True, audio=False, crf=40),
        # Only too long: H.264 MP4 with a keyframe every second (a phone's GOP), at the smallest
        # size fal accepts (re-encoding it is what one test must do).
        "trim_only": make_clip(d / "phone.mp4", seconds=12, width=720, height=720, gop=25, crf=40),
        # Only too long, but one keyframe at 0: no keyframe cut reaches 3-10.05 s.
        "one_gop": make_clip(d / "one_gop.mp4", seconds=12, width=720, height=720, gop=300, audio=False,
                             **flat),
    }
    c["truncated"] = make_truncated(c["mov"], d / "cut.mov")
    return c


def assert_acceptable(info):
    assert info.width % 2 == 0 and info.height % 2 == 0
    assert info.rotation == 0 and info.container == "mp4"
    assert (info.video_codec, info.pixel_format) == ("h264", "yuv420p")
    assert check_video(info, LIMITS) == []


def test_long_low_res_clip_is_trimmed_and_scaled_up(clips, tmp_path):
    info = probe(clips["long"])
    plan = plan_for(info, LIMITS)
    assert (plan.start, plan.end) == (0.0, 10.0)
    result = conform(clips["long"], plan, tmp_path)
    assert result.info.duration == pytest.approx(10.0, abs=0.1)
    assert (result.info.width, result.info.height) == (960, 720)
    assert result.changes == ["trimmed 12.0 s -> 10.0 s", "scaled 320x240 -> 960x720"]
    assert result.info.has_audio and result.info.audio_codec == "aac"
    assert_acceptable(result.info)


def test_trim_from_a_chosen_start(clips, tmp_path):
    plan = plan_for(probe(clips["long"]), LIMITS, start=4.0)
    assert (plan.start, plan.end) == (4.0, None)
    result = conform(clips["long"], plan, tmp_path)
    assert result.info.duration == pytest.approx(8.0, abs=0.1)
    assert result.changes[0] == "trimmed 12.0 s -> 8.0 s (from 4.0 s)"


def test_4k_is_scaled_down_keeping_aspect(clips, tmp_path):
    result = conform(clips["uhd"], ConformPlan(), tmp_path)
    assert (result.info.width, result.info.height) == (2160, 1216)
    assert result.changes == ["scaled 3840x2160 -> 2160x1216"]
    assert not result.info.has_audio


def test_rotation_is_baked_in(clips, tmp_path):
    source = probe(clips["rotated"])
    assert (source.width, source.height, source.rotation) == (720, 1280, 90)
    result = conform(clips["rotated"], plan_for(source, LIMITS), tmp_path)
    out = result.info
    assert (out.width, out.height, out.rotation) == (720, 1280, 0)
    assert (out.coded_width, out.coded_height) == (720, 1280)
    assert result.changes == ["rotation of 90° baked in (stored 1280x720, shown 720x1280)"]
    assert_acceptable(out)


def test_variable_frame_rate_is_made_constant(clips, tmp_path):
    result = conform(clips["vfr"], plan_for(probe(clips["vfr"]), LIMITS), tmp_path)
    assert not result.info.vfr and result.info.fps == 25
    assert any(c.startswith("frame rate made constant at 25 fps") for c in result.changes)
    assert result.info.duration == pytest.approx(4.0, abs=0.1)
    assert_acceptable(result.info)


def test_mov_to_mp4_dropping_audio(clips, tmp_path):
    plan = plan_for(probe(clips["mov"]), LIMITS, keep_audio=False)
    result = conform(clips["mov"], plan, tmp_path)
    assert not result.info.has_audio
    assert result.changes == ["moved from MOV into MP4 (no re-encode)", "audio removed"]
    assert result.path == tmp_path / "clip.conformed.mp4"
    assert_acceptable(result.info)


def test_keeping_audio_of_a_silent_clip_is_no_error(clips, tmp_path):
    result = conform(clips["silent"], ConformPlan(keep_audio=True), tmp_path)
    assert not result.info.has_audio and result.changes == []


def test_size_cap_keeps_output_under_max_bytes(clips, tmp_path):
    uncapped = conform(clips["busy"], ConformPlan(limits=VideoLimits(min_side=360)), tmp_path / "free")
    max_bytes = uncapped.info.size_bytes // 2
    capped = conform(clips["busy"], ConformPlan(limits=VideoLimits(min_side=360), max_bytes=max_bytes),
                     tmp_path / "capped")
    assert capped.info.size_bytes <= max_bytes
    assert any(c.startswith("bitrate capped at") for c in capped.changes)
    assert not any(c.startswith("bitrate capped") for c in uncapped.changes)


def test_progress_and_cancel(clips, tmp_path):
    seen: list[float] = []
    conform(clips["long"], plan_for(probe(clips["long"]), LIMITS), tmp_path / "ok", on_progress=seen.append)
    assert seen[-1] == 1.0 and len(seen) >= 2
    assert all(0.0 <= a <= b <= 1.0 for a, b in pairwise(seen))

    stopped: list[float] = []
    with pytest.raises(JobCancelled):
        conform(clips["long"], plan_for(probe(clips["long"]), LIMITS), tmp_path / "stopped",
                on_progress=stopped.append, cancel=lambda: bool(stopped))
    assert list((tmp_path / "stopped").iterdir()) == []  # no partial output survives


@pytest.mark.parametrize(("size", "fitted"), [
    ((854, 480), (1280, 720)),
    ((480, 854), (720, 1280)),
    ((3840, 2160), (2160, 1216)),
    ((2160, 3840), (1216, 2160)),
    ((1080, 1920), (1080, 1920)),
    ((1281, 721), (1280, 720)),  # only made even
    ((640, 640), (720, 720)),
])
def test_fit_size(size, fitted):
    assert fit_size(*size, LIMITS) == fitted


def test_plans_that_cannot_help(clips):
    short = probe(clips["short"])
    with pytest.raises(InputError, match=r"part to keep is 2\.0 s; Kling O1 accepts 3-10\.05 s"):
        plan_for(short, LIMITS)
    long_ = probe(clips["long"])
    with pytest.raises(InputError, match="not before the end"):
        plan_for(long_, LIMITS, start=11.0, end=5.0)
    with pytest.raises(InputError, match=r"part to keep is 1\.0 s"):
        plan_for(long_, LIMITS, start=11.0)
    with pytest.raises(InputError, match=r"4000x600, an aspect ratio of 6\.7:1"):
        plan_for(replace(long_, width=4000, height=600), LIMITS)


def test_unreadable_source_names_the_file(clips, tmp_path):
    with pytest.raises(MediaError, match=r"cut\.mov"):
        conform(clips["truncated"], ConformPlan(), tmp_path)


@pytest.mark.parametrize(("name", "source_fps", "target", "how"), [
    ("f23976", "23.976", 24, "frames repeated"),
    ("f15", "15", 24, "frames repeated"),
    ("f120", "120", 60, "frames dropped"),
])
def test_fix_it_re_times_a_rate_outside_24_to_60(clips, tmp_path, name, source_fps, target, how):
    source = probe(clips[name])
    assert check_video(source, LIMITS)[0].message.startswith(f"Video's frame rate is {source_fps} fps")
    result = conform(clips[name], plan_for(source, LIMITS), tmp_path)
    assert result.changes == [f"re-timed {source_fps} fps -> {target} fps ({how}; motion and duration kept)"]
    assert result.info.fps == target and not result.info.vfr
    assert result.info.duration == pytest.approx(source.duration, abs=0.05)
    assert_acceptable(result.info)


def test_fix_it_makes_a_slow_variable_rate_constant(clips, tmp_path):
    source = probe(clips["vfr_slow"])
    assert source.vfr and source.fps < 24
    assert "variable" in check_video(source, LIMITS)[0].message
    result = conform(clips["vfr_slow"], plan_for(source, LIMITS), tmp_path)
    assert result.changes == [f"frame rate made constant at 30 fps (was variable, {source.fps:g} fps on "
                              "average; motion and duration kept)"]
    assert result.info.fps == 30 and not result.info.vfr
    assert_acceptable(result.info)


def test_a_clip_that_only_needs_trimming_is_cut_without_re_encoding(clips, tmp_path):
    source = probe(clips["trim_only"])
    result = conform(clips["trim_only"], plan_for(source, LIMITS), tmp_path)
    assert result.changes == ["cut 12.00 s -> 10.00 s without re-encoding, at keyframes: kept "
                              "0.000-10.000 s of the original"]
    out = result.info
    assert out.duration == pytest.approx(10.0, abs=0.03) and out.frame_count == 250
    assert (out.video_codec, out.audio_codec, out.fps) == ("h264", "aac", 25)
    assert_acceptable(out)
    # The same pixels: a copy, not an encode (an encode at our CRF would not keep the bytes).
    assert out.size_bytes == pytest.approx(source.size_bytes * 10 / 12, rel=0.15)


def test_a_copied_cut_snaps_to_the_keyframes_and_says_where(clips, tmp_path):
    source = probe(clips["trim_only"])
    result = conform(clips["trim_only"], plan_for(source, LIMITS, start=1.3, end=8.6), tmp_path)
    assert result.changes == ["cut 12.00 s -> 8.00 s without re-encoding, at keyframes: kept 1.000-9.000 s "
                              "of the original; you chose 1.30-8.60 s, the nearest keyframes allow this"]
    assert result.info.duration == pytest.approx(8.0, abs=0.03)
    assert_acceptable(result.info)


def test_no_valid_keyframe_cut_falls_back_to_re_encoding_and_says_why(clips, tmp_path):
    result = conform(clips["one_gop"], plan_for(probe(clips["one_gop"]), LIMITS), tmp_path)
    assert result.changes == ["trimmed 12.0 s -> 10.0 s (re-encoded: no cut at keyframes gives 3-10.05 s "
                              "here; this clip's keyframes are at 0.00 s)"]
    assert result.info.duration == pytest.approx(10.0, abs=0.05)
    assert_acceptable(result.info)


def test_a_copy_is_not_tried_when_something_else_needs_new_pixels(clips, tmp_path):
    result = conform(clips["long"], plan_for(probe(clips["long"]), LIMITS), tmp_path)
    assert result.changes[0] == "trimmed 12.0 s -> 10.0 s"  # scaled too: one encode does both
    forced = conform(clips["trim_only"], replace(plan_for(probe(clips["trim_only"]), LIMITS), copy=False),
                     tmp_path / "forced")
    assert forced.changes == ["trimmed 12.0 s -> 10.0 s"]


@pytest.mark.parametrize(("keys", "duration", "start", "stop", "cut"), [
    ((0.0, 2.0, 4.0, 6.0, 8.0, 10.0), 12.0, 0.0, 10.0, (0.0, 10.0)),
    ((0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0), 14.0, 3.0, 13.0, (2.0, 12.0)),  # start snaps back, end near
    ((0.0, 10.2), 12.0, 0.0, 10.0, None),  # 10.2 > 10.05 and 12 is longer still
    ((0.0, 10.04), 12.0, 0.0, 10.0, None),  # 10.04 leaves no room for the last audio packet
    ((0.0, 4.0, 8.0), 12.0, 0.0, 10.0, (0.0, 8.0)),  # shorter, but valid: cheaper than an encode
    ((0.0, 9.0), 11.5, 0.0, 10.0, (0.0, 9.0)),
    ((0.0, 1.0), 11.0, 0.0, 10.0, (1.0, 11.0)),  # the start moves forward when the back cannot reach
])
def test_choose_cut(keys, duration, start, stop, cut):
    assert choose_cut(keys, duration, start, stop, LIMITS) == cut
