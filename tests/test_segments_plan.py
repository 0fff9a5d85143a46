"""plan_segments(): every submitted piece lasts what Kling O1 accepts, boundaries sit at shot changes
where they can, long shots split evenly, the frames add up; a stored plan that is not one is refused."""

from __future__ import annotations

import copy
import math

import pytest

from components.config import VideoLimits
from components.errors import InputError
from components.segments.plan import Segment, SegmentPlan, clock, plan_segments

LIMITS = VideoLimits()
FPS = 24.0
FEWEST, MOST = 73, 240  # 3 s + a frame, 10.05 s - 0.05 s, at 24 fps


def assert_valid(plan: SegmentPlan, frame_count: int) -> None:
    assert sum(seg.frames for seg in plan.segments) == plan.frame_count == frame_count
    assert plan.segments[0].start_frame == 0 and plan.segments[-1].end_frame == frame_count
    for seg in plan.segments:
        assert FEWEST <= seg.submitted_frames <= MOST, seg
        assert LIMITS.min_seconds < seg.billed_seconds <= LIMITS.max_seconds - 0.05 + 1e-9
    assert math.isclose(plan.billed_seconds, plan.source_seconds + plan.extra_seconds)


def boundaries(plan: SegmentPlan) -> list[int]:
    return [seg.start_frame for seg in plan.segments[1:]]


def test_the_40_s_clip_is_cut_at_its_three_shot_changes_and_its_long_shots_split():
    plan = plan_segments(960, FPS, [12.0, 21.0, 32.0], LIMITS)
    assert_valid(plan, 960)
    # 12 s and 11 s are each longer than one request: two even halves; 9 s and 8 s stay whole.
    assert boundaries(plan) == [144, 288, 504, 636, 768]
    assert [seg.at_shot_change for seg in plan.segments] == [False, False, True, True, False, True]
    assert plan.cuts == (12.0, 21.0, 32.0) and plan.count == 6 and plan.extra_seconds == 0
    assert plan.describe() == ("6 segments: 0:00-0:06, 0:06-0:12, 0:12-0:21 (shot change), "
                               "0:21-0:26.5 (shot change), 0:26.5-0:32, 0:32-0:40 (shot change)")


def test_a_long_shot_is_split_into_the_fewest_even_pieces():
    plan = plan_segments(1441, FPS, [], LIMITS)  # 60.04 s: one frame more than six 10 s pieces
    assert_valid(plan, 1441)
    sizes = [seg.submitted_frames for seg in plan.segments]
    assert len(sizes) == 7 and max(sizes) - min(sizes) <= 1
    assert not any(seg.at_shot_change for seg in plan.segments)
    exactly_six = plan_segments(1440, FPS, [], LIMITS)
    assert [seg.frames for seg in exactly_six.segments] == [240] * 6


def test_the_10_05_s_limit_keeps_a_margin_and_3_s_needs_a_frame_more():
    assert plan_segments(240, FPS, [], LIMITS).count == 1  # 10.0 s: one request
    two = plan_segments(241, FPS, [], LIMITS)  # 10.04 s is under 10.05 but over the 10.0 s margin
    assert [seg.frames for seg in two.segments] == [121, 120]
    assert plan_segments(FEWEST, FPS, [], LIMITS).count == 1
    with pytest.raises(InputError, match=r"3.0 s \(72 frames at 24 fps\).*at least 3 s"):
        plan_segments(72, FPS, [], LIMITS)


def test_limits_no_plan_can_meet_are_a_clear_refusal():
    # Pieces of 6-8 s: 10 s is too long for one and too short for two.
    narrow = VideoLimits(min_seconds=6.0, max_seconds=8.05)
    with pytest.raises(InputError, match=r"No way to split 10.0 s into segments of 6-8.05 s exists") as e:
        plan_segments(240, FPS, [], narrow)
    assert e.value.fix == "Trim the clip a little and plan again."
    with pytest.raises(InputError, match=r"6-8.05 s with a 0.5 s crossfade exists") as e:
        plan_segments(240, FPS, [], narrow, overlap_seconds=0.5)
    assert e.value.fix == "Use a shorter crossfade, or none."
    assert [seg.frames for seg in plan_segments(312, FPS, [], narrow).segments] == [156, 156]


def test_uses_as_many_shot_changes_as_fit():
    # Every 3.5 s: all five cuts can be boundaries, and the plan uses all of them, although two
    # 10.5 s halves would need fewer requests.
    cuts = [3.5, 7.0, 10.5, 14.0, 17.5]
    plan = plan_segments(504, FPS, cuts, LIMITS)
    assert_valid(plan, 504)
    assert boundaries(plan) == [84, 168, 252, 336, 420]
    assert all(seg.at_shot_change for seg in plan.segments[1:])


def test_cuts_too_close_to_each_other_or_to_an_end_are_left_out():
    # 1 s from the start, 1 s apart (5 s and 6 s), and 2 s before the end: at most one of 5/6 is used.
    plan = plan_segments(720, FPS, [1.0, 5.0, 6.0, 14.0, 28.0], LIMITS)
    assert_valid(plan, 720)
    used = {seg.start_frame for seg in plan.segments if seg.at_shot_change}
    assert 24 not in used and 672 not in used and 336 in used
    assert len(used & {120, 144}) == 1
    assert plan.cuts == (1.0, 5.0, 6.0, 14.0, 28.0)  # what was detected is kept, used or not


def test_a_cut_on_every_frame_still_plans_fast_and_validly():
    plan = plan_segments(1200, FPS, [i / FPS for i in range(1, 1200)], LIMITS)
    assert_valid(plan, 1200)
    assert all(seg.at_shot_change for seg in plan.segments[1:])
    assert plan.count == 1200 // FEWEST  # as many boundaries as 3 s pieces allow


def test_overlap_leads_only_where_a_shot_is_split_and_is_billed():
    plan = plan_segments(960, FPS, [12.0, 21.0, 32.0], LIMITS, overlap_seconds=0.5)
    assert_valid(plan, 960)
    assert plan.overlap_frames == 12
    assert [seg.lead_frames for seg in plan.segments] == [0, 12, 0, 0, 12, 0]
    for seg in plan.segments:
        assert seg.lead_frames == 0 or not seg.at_shot_change
        assert seg.cut_start_frame == seg.start_frame - seg.lead_frames
    assert plan.extra_seconds == 1.0 and plan.billed_seconds == 41.0
    assert plan.describe().endswith("; 2 crossfades of 0.5 s add 1.0 s billed")


def test_overlap_still_fits_every_piece_under_the_limit():
    plan = plan_segments(1440, FPS, [], LIMITS, overlap_seconds=1.0)
    assert_valid(plan, 1440)
    assert plan.count == 7 and all(seg.lead_frames == 24 for seg in plan.segments[1:])


@pytest.mark.parametrize("overlap", [-0.1, 1.5, float("nan")])
def test_overlap_outside_0_to_1_s_is_refused(overlap):
    with pytest.raises(InputError, match="outside 0-1 s") as e:
        plan_segments(960, FPS, [], LIMITS, overlap_seconds=overlap)
    assert e.value.fix.startswith("Pick a crossfade of at most 1 s")


def test_plans_at_a_fractional_rate_in_whole_frames():
    fps = 30000 / 1001
    plan = plan_segments(1200, fps, [20.02], LIMITS, overlap_seconds=0.5)
    assert sum(seg.frames for seg in plan.segments) == 1200
    assert 600 in boundaries(plan)  # 20.02 s at 29.97 fps is frame 600
    assert all(seg.billed_seconds <= 10.0 for seg in plan.segments)


def test_the_same_clip_always_gets_the_same_plan():
    args = (1000, FPS, [7.3, 19.9, 30.0], LIMITS, 0.25)
    assert plan_segments(*args) == plan_segments(*args)


def test_clock_reads_like_a_player():
    assert [clock(0), clock(9.5), clock(18), clock(59.96), clock(61.25)] == \
        ["0:00", "0:09.5", "0:18", "1:00", "1:01.2"]


# ---------------------------------------------------------------------------- stored plans
STORED = plan_segments(960, FPS, [12.0, 21.0, 32.0], LIMITS, overlap_seconds=0.5)


def test_to_dict_from_dict_round_trip():
    d = STORED.to_dict()
    assert SegmentPlan.from_dict(d) == STORED
    assert SegmentPlan.from_dict(copy.deepcopy(d)).segments[1].lead_frames == 12


def _broken(change) -> dict:
    d = copy.deepcopy(STORED.to_dict())
    change(d)
    return d


GARBAGE = {
    "empty": lambda d: d.clear(),
    "extra key": lambda d: d.update(price=1),
    "missing key": lambda d: d.pop("cuts"),
    "frame count as text": lambda d: d.update(frame_count="960"),
    "overlap as bool": lambda d: d.update(overlap_frames=True),
    "fps zero": lambda d: d.update(fps=0),
    "fps nan": lambda d: d.update(fps=float("nan")),
    "fps absurd": lambda d: d.update(fps=1e9),
    "cuts unsorted": lambda d: d.update(cuts=[21.0, 12.0]),
    "cut outside clip": lambda d: d.update(cuts=[12.0, 99.0]),
    "cut as text": lambda d: d.update(cuts=["12"]),
    "segments not a list": lambda d: d.update(segments="all"),
    "no segments": lambda d: d.update(segments=[]),
    "gap between segments": lambda d: d["segments"][2].update(start_frame=290),
    "end past the clip": lambda d: d["segments"][-1].update(end_frame=961),
    "short of the clip": lambda d: d.update(frame_count=1000),
    "lead on the first": lambda d: d["segments"][0].update(lead_frames=12),
    "lead past the overlap": lambda d: d["segments"][1].update(lead_frames=13),
    "negative lead": lambda d: d["segments"][1].update(lead_frames=-1),
    "overlap over 1 s": lambda d: d.update(overlap_frames=25),
    "index out of order": lambda d: d["segments"][3].update(index=7),
    "frame as float": lambda d: d["segments"][1].update(end_frame=288.0),
    "shot change as text": lambda d: d["segments"][2].update(at_shot_change="yes"),
    "segment extra key": lambda d: d["segments"][2].update(prompt="x"),
    "first at a shot change": lambda d: d["segments"][0].update(at_shot_change=True),
}


@pytest.mark.parametrize("name", GARBAGE)
def test_from_dict_refuses_garbage(name):
    with pytest.raises(InputError, match="segment plan") as e:
        SegmentPlan.from_dict(_broken(GARBAGE[name]))
    assert e.value.fix == "Plan the segments again from the clip."


@pytest.mark.parametrize("value", [None, [], "plan", 3])
def test_from_dict_refuses_what_is_not_a_mapping(value):
    with pytest.raises(InputError, match="damaged"):
        SegmentPlan.from_dict(value)  # type: ignore[arg-type]


def test_segment_seconds_use_the_plan_rate():
    seg = Segment(1, 150, 288, 12, fps=24.0)
    assert (seg.start, seg.end, seg.cut_start, seg.billed_seconds) == (6.25, 12.0, 5.75, 6.25)
    assert (seg.frames, seg.submitted_frames) == (138, 150)
