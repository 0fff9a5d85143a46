"""A long clip in segments, through the real app: planned at shot changes, edited in parallel on
fal (the fake), joined to the source's length and frame count, and not paid twice when the app is
SIGKILLed half-way (the segments that finished are kept, the others resume by request id)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from components.jobs.store import JobStore
from components.media.probe import probe
from components.segments.plan import SegmentPlan
from tests.e2e.app_server import AppServer, api_client, close_soon, launch_later, prelaunched
from tests.fakes.fal_fixtures import running_fake_fal
from tests.mediagen import make_clip, make_shots_clip
from tests.test_jobs_runner import wait_for

pytestmark = pytest.mark.timeout(300)

KEY = "server-key"
# 14 s, 3 shot changes: four segments, one per shot (bench/bench_segments.py runs the 40 s case).
SHOTS = (3.5, 3.5, 3.5, 3.5)


def _family(store: JobStore) -> tuple:
    parents = [j for j in store.unfinished() + store.finished_with_files() if j.kind == "segments"]
    if not parents:
        return None, []
    return parents[0], store.children(parents[0].id)


def prelaunch(root: Path, stack: ExitStack) -> tuple[tuple, tuple[AppServer, ...]]:
    """The app this module kills, on the server's key, with a fake fal that holds every request
    after the first two; launched ahead of the module (tests/e2e/app_server.py)."""
    fake = stack.enter_context(running_fake_fal(keys=(KEY,), point_client=False))
    app = AppServer(root / "data", fal_key=KEY, fake_fal_url=fake.url)
    return (fake, app), launch_later(stack, app)


def test_kill_with_two_of_four_segments_done_then_the_other_two_finish(tmp_path):
    fake, app = prelaunched(__name__)
    data = app.data_dir
    before = fake.submits
    fake.set_fault("hold_after", first=before + 2)  # every request after the first two stays queued
    clip = make_shots_clip(tmp_path / "long.mp4", shots=SHOTS, audio=True)
    client = api_client(app.url)
    client.submit(handle_file(str(clip)), "Make it look like winter", [], [], True, "", None, 1, True,
                  0.0, api_name="/edit")
    store = JobStore(data / "jobs.sqlite3")

    def two_done():
        """Two segments done, and every segment at fal with its request id stored (what the
        restart resumes the held ones by)."""
        parent, parts = _family(store)
        return (parent and sum(p.status == "succeeded" for p in parts) == 2
                and all(p.request_id for p in parts) and (parent, parts))

    parent, parts = wait_for(two_done, "two of the four segments to finish and all to reach fal",
                             timeout=120)
    assert len(parts) == 4 and fake.submits - before == 4
    plan = SegmentPlan.from_dict(parent.request["extra"]["plan"])
    assert [round(s.start, 2) for s in plan.segments] == [0.0, 3.5, 7.0, 10.5]
    assert [s.at_shot_change for s in plan.segments] == [False, True, True, True]
    waiting = {p.id for p in parts if p.status != "succeeded"}
    app.kill()

    fake.clear_faults()
    app.start()
    final = wait_for(lambda: (j := store.get(parent.id)).is_finished and j, "the joined result",
                     timeout=120)
    assert final.status == "succeeded", final.error
    after = store.children(parent.id)
    assert len(after) == 4 and fake.submits - before == 4, "a restart must not submit a segment again"
    assert all(p.status == "succeeded" for p in after) and waiting <= {p.id for p in after}
    source, joined = probe(clip), probe(final.output_video)
    assert joined.frame_count == source.frame_count == plan.frame_count
    assert abs(joined.duration - source.duration) <= 1 / plan.fps + 0.03
    assert joined.has_audio and Path(final.side_by_side).is_file()
    close_soon(client)


def test_edit_api_runs_takes_and_refuses_what_it_cannot_run(fal_app, tmp_path):
    fake, app = fal_app
    clip = make_clip(tmp_path / "short.mp4", seconds=3.2, width=720, height=720, fps=24, audio=False)
    before = fake.submits
    client = api_client(app.url)
    try:
        edited, _, details = client.predict(handle_file(str(clip)), "Make it look like winter", [], [], False,
                                            "", None, 2, False, 0.0, api_name="/edit")
        assert details["kind"] == "takes" and fake.submits - before == 2
        assert [(p["part"], p["status"]) for p in details["parts"]] == [(0, "succeeded"), (1, "succeeded")]
        assert Path(edited).stat().st_size > 0
        # Takes of a long clip, a takes count past the limit, segments for a short clip: each a
        # sentence, before anything reaches fal.
        for takes, segments, words in ((5, False, "from 1 to 4"), (2, True, "do not combine"),
                                       (1, True, "needs no segments")):
            with pytest.raises(AppError, match=words):
                client.predict(handle_file(str(clip)), "Make it look like winter", [], [], False, "", None,
                               takes, segments, 0.0, api_name="/edit")
        assert fake.submits - before == 2
    finally:
        close_soon(client)
