"""Parent jobs: takes and segments are ordinary child edits whose parent shows what they add up to,
and the family survives a cancel, a failed part and a restart like a single edit does."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from components.admission.spend import Caller
from components.config import Settings
from components.edit.modes import EditMode
from components.edit.request import EditRequest
from components.engines.base import CancelToken, EditResult
from components.engines.local import LocalEngine
from components.errors import EngineError, InputError
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from components.media.probe import probe
from components.media.thumbnail import thumbnail_path
from components.secret import Secret
from components.segments.plan import SegmentPlan
from components.service import EditService
from components.ui.history import thumbnail
from tests.fakes.fal_fixtures import running_fake_fal
from tests.mediagen import make_image, make_shots_clip
from tests.services import make_service
from tests.test_jobs_runner import WAIT_S, HeldEngine, wait_for, watch_in_thread

pytestmark = pytest.mark.slow  # seconds of encoding: run before the quick modules

OWNER = "owner-a"


@pytest.fixture(scope="module")
def clip(small_clip) -> Path:
    return small_clip


def _takes(runner: JobRunner, clip: Path, engine, n: int = 3):
    request = EditRequest(prompt="Make it look like winter", video=clip)
    return runner.submit_parent(OWNER, "takes", request, [request] * n, engine)


def test_takes_run_as_children_and_one_is_chosen(runner, store, clip, settings):
    parent = _takes(runner, clip, LocalEngine(settings))
    final = watch_in_thread(runner, parent.id, OWNER)[-1]
    assert final.status == "succeeded", final.error
    takes = runner.children(parent.id, OWNER)
    assert [t.part for t in takes] == [0, 1, 2] and all(t.status == "succeeded" for t in takes)
    assert all(t.parent_id == parent.id and t.side_by_side.is_file() for t in takes)
    # The local preview cannot invent a new take: it turns the colours and says so.
    colours = [_mean_colour(t.output_video) for t in takes]
    assert min(abs(a - b).max() for a, b in ((colours[0], colours[1]), (colours[1], colours[2]))) > 5
    assert all(f"Take {t.part + 1}: the local preview cannot invent" in " ".join(t.notes) for t in takes)
    # History shows the family once; the first take that succeeded is the result until another is
    # chosen, and the details say which.
    assert [j.id for j in runner.history(OWNER)] == [parent.id]
    assert final.chosen == 0 and final.output_video.read_bytes() == takes[0].output_video.read_bytes()
    chosen = runner.choose_take(parent.id, OWNER, 2)
    assert chosen.chosen == 2 and chosen.output_video.parent.is_relative_to(store.job_dir(parent.id))
    assert chosen.output_video.read_bytes() == takes[2].output_video.read_bytes()
    assert chosen.side_by_side.is_file()
    assert chosen.output_video.name == "take-3.mp4" and "take 3 is chosen" in " ".join(chosen.notes)
    # Nobody else sees or steers the family; nothing that is not a finished take can be chosen.
    assert runner.children(parent.id, "owner-b") == []
    for owner, part in (("owner-b", 1), (OWNER, 3), (OWNER, -1)):
        with pytest.raises(InputError):
            runner.choose_take(parent.id, owner, part)


def _mean_colour(video: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    assert ok, video
    return frame.reshape(-1, 3).mean(axis=0)


def test_cancelling_the_parent_cancels_every_part(runner, clip):
    engine = HeldEngine()
    parent = _takes(runner, clip, engine, n=2)
    wait_for(engine.started.is_set, "the first take to run")
    assert runner.cancel(parent.id, OWNER) is True
    final = watch_in_thread(runner, parent.id, OWNER)[-1]
    assert final.status == "cancelled"
    assert {t.status for t in runner.children(parent.id, OWNER)} == {"cancelled"}


def test_a_failed_part_is_retried_alone(runner, store, clip, settings):
    failing = HeldEngine(fail=EngineError("fal said no"))
    failing.release.set()
    parent = _takes(runner, clip, failing, n=2)
    failed = watch_in_thread(runner, parent.id, OWNER)[-1]
    assert failed.status == "failed" and "Take 1 of 2 failed: fal said no" in failed.error
    first_try = {t.id for t in runner.children(parent.id, OWNER)}

    again_for, again = runner.parts_to_retry(parent.id, OWNER)
    assert sorted(again) == [0, 1]  # both failed: the set to rerun, computed once
    runner.retry_parts(again_for, again, LocalEngine(settings))
    final = watch_in_thread(runner, parent.id, OWNER)[-1]
    assert final.status == "succeeded", final.error
    retried = runner.children(parent.id, OWNER)
    assert {t.part for t in retried} == {0, 1} and not first_try & {t.id for t in retried}
    assert len(store.children(parent.id)) == 4  # the failed tries stay on record
    with pytest.raises(InputError, match="nothing to retry"):
        runner.parts_to_retry(parent.id, OWNER)


def test_a_restart_runs_the_parts_that_were_left_and_keeps_the_finished_ones(settings, clip):
    """A process dies with one take done and one never started; the next one finishes the family
    without running the finished take again."""
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    first = JobRunner(store, settings, watch_tick_s=0.2)
    held = HeldEngine()
    request = EditRequest(prompt="black and white", video=clip)
    try:
        parent = first.submit_parent(OWNER, "takes", request, [request, request], held)
        wait_for(held.started.is_set, "the first take to run")
    finally:
        first.close()  # the loop stops as a SIGKILL would leave the rows: running / queued
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    done, left = store.children(parent.id)
    store.update(done.id, status="succeeded", output_video=Path(done.request["video"]))
    assert store.get(parent.id).status in ("queued", "running") and left.status in ("queued", "running")

    store = JobStore(settings.data_dir / "jobs.sqlite3")

    second = JobRunner(store, settings, watch_tick_s=0.2)
    try:
        second.recover(None, LocalEngine(settings))
        final = watch_in_thread(second, parent.id, OWNER)[-1]
        assert final.status == "succeeded", final.error
        after = {t.part: t for t in second.children(parent.id, OWNER)}
        assert after[0].id == done.id and after[1].id == left.id  # the same rows: nothing ran twice
        assert after[1].status == "succeeded" and after[1].output_video.is_file()
    finally:
        second.close()


# ----- a long clip in segments, through the service and the fake fal ---------------------------------


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    return make_shots_clip(tmp_path_factory.mktemp("long") / "long.mp4", shots=(5.0, 5.5), audio=True)


def _service(settings: Settings, runner: JobRunner, store: JobStore, root: Path) -> EditService:
    return make_service(settings, runner, store, [root, settings.scratch_dir])


def test_a_long_clip_is_edited_in_segments_and_joined_to_the_source_length(tmp_path, long_clip):
    """On fal (the fake) with the server's key; the first submit fails, and "retry" runs that one
    segment again, billed again, while the other is kept."""
    settings = Settings(data_dir=tmp_path / "data", fal_key=Secret("server-key"),
                        scratch_dir=tmp_path / "scratch")
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    runner = JobRunner(store, settings, watch_tick_s=0.2)
    service = _service(settings, runner, store, long_clip.parent)
    caller = Caller(OWNER, "198.51.100.7")
    palette = make_image(long_clip.parent / "palette.png", width=640, height=640)
    request = EditRequest(prompt="Make it look like winter, in the colours of @Image1", video=long_clip,
                          images=(palette,), keep_audio=True)
    try:
        with running_fake_fal(keys=("server-key",)) as fake:
            fake.set_fault("submit_status", count=1, status=403, detail="Forbidden")
            parent = service.start(caller, None, request, EditMode(segments=True))
            failed = watch_in_thread(runner, parent.id, OWNER)[-1]
            assert failed.status == "failed" and "Retry failed parts" in failed.error
            assert fake.submits == 1  # the refused submit never became a fal request
            kept = {p.id for p in runner.children(parent.id, OWNER) if p.status == "succeeded"}
            assert len(kept) == 1

            service.retry(caller, None, parent.id)
            final = watch_in_thread(runner, parent.id, OWNER)[-1]
            assert final.status == "succeeded", final.error
            plan = SegmentPlan.from_dict(final.request["extra"]["plan"])
            assert plan.count == 2 and fake.submits == 2
            parts = runner.children(parent.id, OWNER)
            assert kept < {p.id for p in parts}  # the finished segment was not run again
            # Same words and references for every segment; the reference went up once, the
            # two segment files once each.
            assert {len(j.arguments["image_urls"]) for j in fake.jobs.values()} == {1}
            assert len({j.arguments["image_urls"][0] for j in fake.jobs.values()}) == 1
            assert fake.uploads == 3
            source, joined = probe(long_clip), probe(final.output_video)
            assert joined.frame_count == source.frame_count == plan.frame_count
            assert abs(joined.duration - source.duration) <= 1 / plan.fps + 0.03 and joined.has_audio
            assert final.side_by_side.is_file()
            assert [p.side_by_side for p in parts] == [None, None]  # only the joined clip gets one
            # The budget counts each segment at its own length; the refused try never reached fal.
            billed = [p.request["extra"]["billed_usd"] for p in parts]
            assert sum(billed) == pytest.approx(settings.cost(plan.billed_seconds), abs=0.01)
            assert service.guard.spent_today() == pytest.approx(sum(billed))
    finally:
        runner.close()


class _HeldLocalPreview(LocalEngine):
    """The local preview, holding each segment until released: timing control only, so a test can
    look at the page's history while the segments run."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.started, self.release = threading.Event(), threading.Event()

    async def edit(self, request: EditRequest, workdir: Path, on_event, cancel: CancelToken) -> EditResult:
        self.started.set()
        while not self.release.is_set():
            cancel.raise_if_cancelled()
            await asyncio.sleep(0.01)
        return await super().edit(request, workdir, on_event, cancel)


def test_the_local_preview_edits_a_long_clip_in_segments_and_history_shows_it_meanwhile(tmp_path, long_clip):
    """History pictures a running long clip by its source, as it does a single edit, through the
    minutes its segments take (and for good if it fails); once joined, by its result."""
    settings = Settings(data_dir=tmp_path / "data", scratch_dir=tmp_path / "scratch")
    runner = JobRunner(JobStore(settings.data_dir / "jobs.sqlite3"), settings, watch_tick_s=0.2)
    engine = _HeldLocalPreview(settings)
    try:
        parent = runner.submit_segments(OWNER, EditRequest(prompt="black and white, like an old film",
                                                           video=long_clip), 0.0, engine)
        assert engine.started.wait(WAIT_S), "no segment started"
        [running] = runner.history(OWNER)
        assert running.status == "running"
        assert thumbnail(running) == thumbnail_path(Path(running.request["video"]))
        engine.release.set()
        final = watch_in_thread(runner, parent.id, OWNER)[-1]
        assert (final.status, final.engine) == ("succeeded", "local"), final.error
        assert probe(final.output_video).frame_count == probe(long_clip).frame_count
        assert {p.engine for p in runner.children(parent.id, OWNER)} == {"local"}
        assert thumbnail(runner.history(OWNER)[0]) == thumbnail_path(final.output_video)
    finally:
        runner.close()


# ----- the store: old data folders, retention ---------------------------------------------------------


def test_a_store_from_before_parent_jobs_opens_with_its_history(tmp_path, clip):
    """A data folder written before the family columns existed: its rows read as single edits."""
    db = tmp_path / "jobs.sqlite3"
    old = ("id TEXT PRIMARY KEY", "owner", "engine", "key_source", "status", "request", "created_at",
           "updated_at", "phase", "message", "fraction", "arguments", "request_id", "timings", "notes",
           "error", "output_video", "side_by_side", "remote_url", "logs", "started_at", "finished_at",
           "expired", "expired_reason")
    with sqlite3.connect(db) as conn:
        conn.execute(f"CREATE TABLE jobs ({', '.join(old)})")
        conn.execute("INSERT INTO jobs (id, owner, engine, status, request, created_at, updated_at, expired) "
                     "VALUES ('j1', 'owner-a', 'local', 'succeeded', ?, 1.0, 1.0, 0)",
                     (json.dumps(EditRequest(prompt="old", video=clip).to_dict()),))
    store = JobStore(db)
    [job] = store.list_for_owner("owner-a")
    assert (job.id, job.kind, job.parent_id, job.part, job.is_parent) == ("j1", "edit", None, None, False)


def test_retention_keeps_the_parts_of_an_unfinished_parent(tmp_path, clip):
    store = JobStore(tmp_path / "jobs.sqlite3")
    request = EditRequest(prompt="x", video=clip)
    parent = store.create(OWNER, request, "local", None, kind="segments", status="running")
    done = store.create(OWNER, request, "local", None, parent_id=parent.id, part=0, status="succeeded")
    lone = store.create(OWNER, request, "local", None, status="succeeded")
    assert [j.id for j in store.finished_with_files()] == [lone.id]  # the join still needs part 0
    store.update(parent.id, status="failed")
    assert {j.id for j in store.finished_with_files()} == {lone.id, done.id, parent.id}
