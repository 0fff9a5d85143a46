"""Shot detection, cutting and joining on real encodes: a 28.5 s clip of four shots (10.5, 4, 10.5, 3.5 s)
comes apart into files Kling O1 accepts and goes back together with exactly its frames, its
length and (when asked) its audio, whatever rate, size or frame count the "model" returns."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from components.config import VideoLimits
from components.errors import JobCancelled, MediaError
from components.media.ffmpeg import ffmpeg_exe
from components.media.limits import check_video
from components.media.probe import probe
from components.segments.cut import cut_segments, source_fps, source_frames
from components.segments.join import join_segments
from components.segments.plan import SegmentPlan, plan_segments
from components.segments.scenes import detect_cuts
from tests.mediagen import make_clip, make_reencoded, make_shots_clip

pytestmark = pytest.mark.slow  # seconds of encoding: run before the quick modules

LIMITS = VideoLimits()
SHOT_CHANGES = (10.5, 14.5, 25.0)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return make_shots_clip(tmp_path_factory.mktemp("shots") / "shots.mp4", shots=(10.5, 4, 10.5, 3.5))


@pytest.fixture(scope="module")
def plan(source) -> SegmentPlan:
    info = probe(source)
    fps = source_fps(info, LIMITS)
    return plan_segments(source_frames(info, fps), fps, detect_cuts(source), LIMITS, overlap_seconds=0.5)


@pytest.fixture(scope="module")
def cut(source, plan, tmp_path_factory) -> tuple[list[Path], list[float]]:
    seen: list[float] = []
    paths = cut_segments(source, plan, tmp_path_factory.mktemp("cut"), LIMITS, on_progress=seen.append)
    return paths, seen


def grey_frames(path: Path, fps: float | None = None) -> np.ndarray:
    """Every frame as 32x32 grey: enough to tell neighbouring frames of the test pattern apart."""
    vf = (f"fps={fps:g}," if fps else "") + "scale=32:32,format=gray"
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-vf", vf, "-f", "rawvideo", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, 32, 32).astype(np.int16)


def test_detect_cuts_finds_the_three_shot_changes_within_a_frame(source):
    cuts = detect_cuts(source)
    assert len(cuts) == 3
    for found, true in zip(cuts, SHOT_CHANGES, strict=True):
        assert abs(found - true) <= 1 / 24


def test_the_plan_cuts_at_the_shot_changes(plan):
    assert plan.fps == 24 and plan.frame_count == 684
    starts = {seg.start_frame for seg in plan.segments if seg.at_shot_change}
    assert starts == {252, 348, 600}
    assert plan.extra_seconds == 1.0  # the two 10.5 s shots are each split once, with a lead


def test_every_cut_segment_is_acceptable_and_exact(plan, cut):
    paths, seen = cut
    assert [p.name for p in paths] == [f"segment-{i:02d}.mp4" for i in range(plan.count)]
    for path, seg in zip(paths, plan.segments, strict=True):
        info = probe(path)
        assert check_video(info, LIMITS) == []
        assert info.frame_count == seg.submitted_frames
        assert (info.width, info.height, info.fps, info.has_audio) == (720, 720, 24.0, False)
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_the_joined_clip_has_the_source_frames_length_and_audio(source, plan, cut, tmp_path):
    """The "model" sends three segments back changed: one at 30 fps, one at another size, one a
    frame short (two of them crossfade in); the other three come back as they were sent."""
    paths = list(cut[0])
    sent = [probe(p).frame_count for p in paths]
    paths[1] = make_reencoded(paths[1], tmp_path / "at30.mp4", fps=30)
    paths[2] = make_reencoded(paths[2], tmp_path / "wide.mp4", width=1280, height=720)
    paths[4] = make_reencoded(paths[4], tmp_path / "short.mp4", frames=sent[4] - 1)
    result = join_segments(paths, plan, source, tmp_path / "joined.mp4", keep_audio=True)
    info = probe(result.path)
    assert result.frame_count == info.frame_count == 684
    assert abs(info.duration - probe(source).duration) <= 1 / 24
    assert (info.width, info.height, info.fps, info.audio_codec) == (720, 720, 24.0, "aac")
    assert result.notes == ["joined 6 segments with 0.5 s crossfades at 2 of the seams",
                            "segment 2 came back at 30 fps: re-timed to 24 fps",
                            "segment 3 came back 1280x720: scaled to 720x720",
                            "segment 5 came back 1 frame short: its last frame is shown longer",
                            "audio: the source's, 28.5 s"]
    # The segments sent back unchanged land frame for frame where they were cut from (segment 1
    # up to its crossfade, 4 up to its crossfade, 6 whole); one frame out of place would differ
    # by the bar's step from one frame to the next.
    joined, original = grey_frames(result.path), grey_frames(source)
    step = np.abs(original[1:] - original[:-1]).mean(axis=(1, 2))
    assert step.min() > 2
    untouched = np.r_[0:120, 348:468, 600:684]
    assert np.abs(joined[untouched] - original[untouched]).mean(axis=(1, 2)).max() < 1


def test_a_segment_that_lost_much_of_its_edit_is_refused(source, plan, cut, tmp_path):
    paths = list(cut[0])
    paths[3] = paths[5]  # 3.5 s back for a 5.5 s part
    with pytest.raises(MediaError, match=r"Edited segment 4 lasts 3.5 s; it was sent as 5.5 s"):
        join_segments(paths, plan, source, tmp_path / "joined.mp4", keep_audio=True)
    with pytest.raises(MediaError, match="5 edited segments came back for a plan of 6"):
        join_segments(paths[:5], plan, source, tmp_path / "joined.mp4", keep_audio=True)
    assert not (tmp_path / "joined.mp4").exists()


def test_cancel_stops_detection_and_cutting_without_leftovers(source, plan, tmp_path):
    with pytest.raises(JobCancelled):
        detect_cuts(source, cancel=lambda: True)
    with pytest.raises(JobCancelled):
        cut_segments(source, plan, tmp_path / "before", LIMITS, cancel=lambda: True)
    seen: list[float] = []  # cancelled once ffmpeg has reported progress: mid-encode
    with pytest.raises(JobCancelled, match="segment 1 of"):
        cut_segments(source, plan, tmp_path / "during", LIMITS, on_progress=seen.append,
                     cancel=lambda: bool(seen))
    assert seen and [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_rotated_variable_rate_odd_sized_phone_clip_cuts_and_joins_exactly_without_audio(tmp_path):
    src = make_clip(tmp_path / "phone.mp4", seconds=11, width=721, height=727, fps=30, vfr=True,
                    rotate=90, pix_fmt="yuv444p", source="color")
    info = probe(src)
    assert info.vfr and info.rotation == 90 and (info.width, info.height) == (727, 721) and info.has_audio
    fps = source_fps(info, LIMITS)
    plan = plan_segments(source_frames(info, fps), fps, [], LIMITS, overlap_seconds=0.5)
    assert (fps, plan.frame_count, plan.count, plan.segments[1].lead_frames) == (30.0, 330, 2, 15)
    paths = cut_segments(src, plan, tmp_path / "cut", LIMITS)
    for path, seg in zip(paths, plan.segments, strict=True):
        out = probe(path)
        assert check_video(out, LIMITS) == [] and not out.vfr
        assert (out.width, out.height, out.rotation, out.frame_count) == (728, 720, 0, seg.submitted_frames)
    result = join_segments(paths, plan, src, tmp_path / "joined.mp4", keep_audio=False)
    joined = probe(result.path)
    assert joined.frame_count == result.frame_count == 330 and not joined.has_audio
    assert abs(result.duration - info.duration) <= 1 / 30
    assert "audio" not in " ".join(result.notes)
