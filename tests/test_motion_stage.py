"""Every finished edit gets its motion score, after its result and side-by-side exist; a clip that
cannot be measured says so; a set of takes proposes the take that kept the motion best, only by a
clear margin."""

from __future__ import annotations

import pytest

from components.edit.request import EditRequest
from components.engines.local import LocalEngine
from components.jobs.models import Job
from components.jobs.motion_stage import NOT_MEASURABLE
from components.jobs.outcome import PROPOSE_MARGIN, best_motion, proposed_note
from tests.test_jobs_runner import watch_in_thread
from tests.test_motion import PAN, _frames, _write


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("moving") / "moving.mp4", _frames(PAN))


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("still") / "still.mp4", _frames(PAN, still=True))


def test_a_local_edit_of_a_moving_clip_keeps_its_motion_and_says_how_much(runner, moving):
    job = runner.submit("owner-m", EditRequest(prompt="Make it black and white", video=moving),
                        LocalEngine(runner.settings))
    final = watch_in_thread(runner, job.id, "owner-m")[-1]
    assert final.status == "succeeded", final.error
    assert final.side_by_side is not None and final.motion_fidelity is not None
    assert final.motion_fidelity >= 0.8, final.motion_fidelity
    assert NOT_MEASURABLE not in final.notes


def test_a_clip_that_never_moves_is_said_to_be_not_measurable(runner, still):
    job = runner.submit("owner-m", EditRequest(prompt="Make it black and white", video=still),
                        LocalEngine(runner.settings))
    final = watch_in_thread(runner, job.id, "owner-m")[-1]
    assert final.status == "succeeded" and final.motion_fidelity is None
    assert NOT_MEASURABLE in final.notes


def _take(part: int, score: float | None) -> Job:
    return Job(id=f"t{part}", owner="o", engine="local", key_source=None, status="succeeded", request={},
               created_at=0.0, updated_at=0.0, part=part, motion_fidelity=score)


@pytest.mark.parametrize(("scores", "proposed"), [
    ([0.62, 0.93, 0.70], 1),  # a clear lead: take 2 is proposed
    ([0.90, 0.90 - PROPOSE_MARGIN / 2], None),  # too close to tell: the first success stays
    ([0.50], None),  # one take measured: nothing to compare
    ([None, 0.9, None], None),
])
def test_the_take_that_kept_the_motion_best_is_proposed_only_by_a_clear_margin(scores, proposed):
    takes = [_take(i, s) for i, s in enumerate(scores)]
    assert best_motion(takes) == proposed
    if proposed is not None:
        note = proposed_note({t.part: t for t in takes}, proposed)
        assert note.startswith(f"Take {proposed + 1} kept the original's motion best (0.93; take 1: 0.62")
