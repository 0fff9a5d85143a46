"""conform()/plan_for(): every output re-probes as a clip Kling O1 accepts, and the change list
says in plain words what was done."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from components.config import VideoLimits
from components.errors import InputError, JobCancelled, MediaError
from components.media.conform import ConformPlan, conform, fit_size, plan_for
from components.media.limits import check_video
from components.media.probe import probe
from components.media.smartcut import plan_spans
from tests.mediagen import FFMPEG, make_clip, make_truncated

pytestmark = pytest.mark.slow  # seconds of encoding: run before the quick modules

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
        "mkv": make_clip(d / "clip.mkv", seconds=3, width=1280, height=720, **flat),
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
        # The same with B-frames (x264's veryfast): a copy can stop only where no frame shown before
        # the end needs one shown after it.
        "b_frames": make_clip(d / "b_frames.mp4", seconds=12, width=720, height=720, gop=25, crf=40,
                              preset="veryfast"),
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


def test_fix_it_names_the_container_it_converted_as_people_do(clips, tmp_path):
    """Fix it's note (its list of changes) says "MKV/WebM", not ffmpeg's "MATROSKA"."""
    result = conform(clips["mkv"], plan_for(probe(clips["mkv"]), LIMITS), tmp_path)
    assert result.changes == ["converted MKV/WebM -> MP4"]
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


def decoded_frames(path: Path) -> list[str]:
    """The md5 of every decoded picture, in the order shown: what a viewer sees, frame by frame."""
    out = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[-1].strip() for line in out.splitlines() if not line.startswith("#")]


def decode_errors(path: Path) -> str:
    return subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True).stderr


def test_a_trim_starting_on_a_keyframe_is_copied_whole(clips, tmp_path):
    source = probe(clips["trim_only"])
    result = conform(clips["trim_only"], plan_for(source, LIMITS), tmp_path)
    assert result.changes == ["cut 12.00 s -> 10.00 s, exactly 0.00-10.00 s of the original (frames 0-249), "
                              "copied without re-encoding (it starts on a keyframe)"]
    out = result.info
    assert out.duration == pytest.approx(10.0, abs=0.03) and out.frame_count == 250
    assert (out.video_codec, out.audio_codec, out.fps) == ("h264", "aac", 25)
    assert_acceptable(out)
    assert decoded_frames(result.path) == decoded_frames(clips["trim_only"])[:250]  # the same pictures


def test_a_smart_cut_keeps_exactly_the_range_asked_for(clips, tmp_path):
    """1.3-8.6 s used to come back as the keyframe span around it (1-9 s); now frames 32-214 exactly,
    with only the frames before the first keyframe inside the range re-encoded."""
    source = probe(clips["trim_only"])
    result = conform(clips["trim_only"], plan_for(source, LIMITS, start=1.3, end=8.6), tmp_path)
    assert result.changes[0] == ("cut 12.00 s -> 7.32 s, exactly 1.28-8.60 s of the original "
                                 "(frames 32-214): a smart cut, 0.72 s up to the first keyframe re-encoded, "
                                 "the other 6.60 s copied without re-encoding")
    assert result.info.frame_count == 183 and result.info.duration == pytest.approx(7.32, abs=0.03)
    assert_acceptable(result.info)
    mine, theirs = decoded_frames(result.path), decoded_frames(clips["trim_only"])[32:215]
    assert mine[18:] == theirs[18:]  # from the keyframe at 2.0 s on: the source's own pictures
    assert decode_errors(result.path) == ""


def test_a_smart_cut_of_a_stream_with_b_frames_ends_on_the_frame_asked_for(clips, tmp_path):
    """With B-frames a copy cannot stop just anywhere (a frame shown before the end may need one shown
    after it): it runs to the end of the last group of B-frames before the end, past the last keyframe,
    and only the frames after that are re-encoded, by the same encoder set-up as the head."""
    source = probe(clips["b_frames"])
    result = conform(clips["b_frames"], plan_for(source, LIMITS, start=1.3, end=8.76), tmp_path)
    assert result.changes[0].endswith("0.72 s up to the first keyframe and the last 0.08 s re-encoded, "
                                      "the other 6.68 s copied without re-encoding")
    assert result.info.frame_count == 187  # frames 32-218: 1.28 s up to 8.76 s
    assert decode_errors(result.path) == ""
    mine, theirs = decoded_frames(result.path), decoded_frames(clips["b_frames"])[32:219]
    assert mine[18:185] == theirs[18:185]  # 2.0-8.68 s copied
    # The sound ends with the picture, within half an AAC packet.
    assert result.info.duration == pytest.approx(187 / 25, abs=0.015)


def test_a_smart_cut_reports_progress_and_stops_on_cancel(clips, tmp_path):
    plan = plan_for(probe(clips["trim_only"]), LIMITS, start=1.3, end=8.6)
    seen: list[float] = []
    conform(clips["trim_only"], plan, tmp_path / "ok", on_progress=seen.append)
    assert seen[-1] == 1.0 and all(0.0 <= a <= b <= 1.0 for a, b in pairwise(seen))
    with pytest.raises(JobCancelled):
        conform(clips["trim_only"], plan, tmp_path / "stopped", cancel=lambda: True)
    assert list((tmp_path / "stopped").iterdir()) == []  # no partial output survives


def test_no_keyframe_in_the_range_re_encodes_it_whole_and_says_why(clips, tmp_path):
    result = conform(clips["one_gop"], plan_for(probe(clips["one_gop"]), LIMITS, start=1.0), tmp_path)
    assert result.changes == ["trimmed 12.0 s -> 10.0 s (from 1.0 s) (re-encoded whole: no keyframe between "
                              "1.00 and 11.00 s starts a copy)"]
    assert result.info.duration == pytest.approx(10.0, abs=0.05)
    assert_acceptable(result.info)


def test_a_copy_is_not_tried_when_something_else_needs_new_pixels(clips, tmp_path):
    result = conform(clips["long"], plan_for(probe(clips["long"]), LIMITS), tmp_path)
    assert result.changes[0] == "trimmed 12.0 s -> 10.0 s"  # scaled too: one encode does both
    forced = conform(clips["trim_only"], replace(plan_for(probe(clips["trim_only"]), LIMITS), copy=False),
                     tmp_path / "forced")
    assert forced.changes == ["trimmed 12.0 s -> 10.0 s"]


@pytest.mark.parametrize(("decoded", "keys", "start", "end", "copy", "frames"), [
    # no B-frames: a copy from the first keyframe inside the range reaches any end
    ((0, 1, 2, 3, 4, 5, 6, 7), (0, 4), 1.5, 6, (4, 6), 5),
    ((0, 1, 2, 3, 4, 5, 6, 7), (0, 4), 0, 6, (0, 6), 6),
    # B-frames (decode order 0 2 1 3 | 4 6 5 7: frame 1 needs frame 2, frame 5 frame 6)
    ((0, 2, 1, 3, 4, 6, 5, 7), (0, 4), 0, 4, (0, 4), 4),
    # a copy to 6 would need 6; it stops after the group that ends with 3 (0 2 1 3 4: frames 0-4)
    ((0, 2, 1, 3, 4, 6, 5, 7), (0, 4), 0, 6, (0, 5), 6),
    ((0, 2, 1, 3, 4, 6, 5, 7), (0, 4), 0, 2, (0, 1), 2),  # frame 1 needs 2, shown after the end
    ((0, 2, 1, 3, 4, 6, 5, 7), (0, 4), 0, 7, (0, 7), 7),
    ((0, 2, 1, 3, 4, 6, 5, 7), (0, 4), 1, 3.5, None, 3),  # no keyframe inside: re-encode it all
    # an open GOP: frame 3 is decoded after the keyframe 4 and needs it, so a copy from 4 holds
    # frame 4 alone; from 8 as many frames are re-encoded, with one join fewer
    ((0, 1, 2, 4, 3, 5, 6, 8, 7), (0, 4, 8), 2, 9, (8, 9), 7),
    ((0, 1, 2, 3), (0,), 0.5, 3, (0, 3), 3),  # the frame on screen at 0.5 s is frame 0, a keyframe
])
def test_plan_spans(decoded, keys, start, end, copy, frames):
    spans = plan_spans([float(t) for t in decoded], [float(k) for k in keys], start, end)
    assert (spans.copy, spans.frames) == (copy, frames)
