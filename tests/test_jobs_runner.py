"""The job runner: jobs live on the server's loop, survive their browser tab and a restart.

Real engines where the behaviour under test is an engine's (local preview, fal through the fake
server); ``HeldEngine`` below only where the runner's own timing is under test (hold a job running,
fill the only engine slot).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from components.config import Settings
from components.edit.request import EditRequest, Element
from components.engines.base import CancelToken, EditResult, ProgressEvent
from components.engines.fal import FalEngine
from components.engines.local import LocalEngine
from components.errors import InputError
from components.jobs.drive import INTERNAL_FAILURE
from components.jobs.inputs import copy_inputs
from components.jobs.models import Job
from components.jobs.recovery import INTERRUPTED_BEFORE_SUBMIT, INTERRUPTED_LOCAL
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from components.secret import Secret
from components.ui import progress
from tests.fakes.fal_fixtures import running_fake_fal
from tests.mediagen import make_clip, make_image, make_text_as

pytestmark = pytest.mark.slow  # seconds of encoding: run before the quick modules

WAIT_S = 60.0


class HeldEngine:
    """Timing control only: reports a fal-like request id, then holds 'running' until released."""

    label = "held for a test"
    can_resume = False

    def __init__(self, name: str = "local", request_id: str | None = None, fail: Exception | None = None,
                 burst: int = 0):
        self.name = name
        self.concurrency_key = name  # a "fal"-named one holds a fal slot, as FalEngine does
        self.request_id = request_id
        self.fail = fail
        self.burst = burst  # progress events sent back to back, as a chatty engine would
        self.started = threading.Event()
        self.release = threading.Event()

    async def edit(self, request: EditRequest, workdir: Path, on_event, cancel: CancelToken) -> EditResult:
        on_event(ProgressEvent("submitted", "Submitted", fraction=0.3, request_id=self.request_id,
                               logs=("first log line",)))
        for i in range(1, self.burst + 1):
            on_event(ProgressEvent("running", f"step {i}", fraction=0.3 + 0.5 * i / self.burst,
                                   logs=(f"step {i}",)))
        self.started.set()
        while not self.release.is_set():
            cancel.raise_if_cancelled()
            await asyncio.sleep(0.01)
        if self.fail:
            raise self.fail
        out = workdir / "edited.mp4"
        shutil.copy(request.video, out)
        return EditResult(video=out, engine=self.name, request_id=self.request_id)

    async def resume(self, request_id: str, workdir: Path, on_event, cancel: CancelToken) -> EditResult:
        raise TypeError("never called: can_resume is False")


def watch_in_thread(runner: JobRunner, job_id: str, owner: str) -> list[Job]:
    """Follow a job to its end from a fresh event loop in another thread, as gradio's loop would."""
    tab = Tab(runner, job_id, owner)
    tab.join()
    return tab.seen


class Tab:
    """A tab watching a job from its own loop and thread; ``seen`` grows as snapshots arrive, so a
    test can wait for what the tab has seen instead of sleeping."""

    def __init__(self, runner: JobRunner, job_id: str, owner: str) -> None:
        self.seen: list[Job] = []

        async def follow() -> None:
            async for job in runner.watch(job_id, owner):
                self.seen.append(job)

        self._thread = threading.Thread(target=lambda: asyncio.run(asyncio.wait_for(follow(), WAIT_S)))
        self._thread.start()

    def join(self) -> None:
        self._thread.join(WAIT_S + 5)
        assert not self._thread.is_alive(), "watch did not end after the job finished"


def wait_for(predicate, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_local_engine_job_end_to_end(runner, store, small_clip, tmp_path):
    gradio_cache = tmp_path / "gradio"
    gradio_cache.mkdir()
    upload = shutil.copy(small_clip, gradio_cache / "upload.mp4")
    request = EditRequest(prompt="Make it black and white", video=Path(upload))

    job = runner.submit("owner-a", request, LocalEngine(runner.settings))
    assert job.status == "queued" and store.get(job.id) is not None  # recorded before it ran
    shutil.rmtree(gradio_cache)  # gradio may clean its cache while the job runs
    seen = watch_in_thread(runner, job.id, "owner-a")

    final = seen[-1]
    assert final.status == "succeeded", final.error
    # It held an engine slot (a watcher that attaches late may never see "running" itself).
    assert final.started_at is not None
    assert final.output_video.is_file() and final.output_video.parent == store.job_dir(job.id)
    assert final.side_by_side.is_file() and final.side_by_side.stat().st_size > 0
    restored = final.edit_request()
    assert restored.video.is_file() and restored.video.name == "upload.mp4"
    assert restored.video.parent.parent == store.job_dir(job.id) / "inputs"
    assert final.timings["side_by_side"] > 0 and final.notes
    assert store.get(job.id) == final  # the store holds exactly what the last watcher saw
    assert final.finished_at >= final.started_at >= final.created_at


def test_watchers_get_the_edited_clip_before_the_side_by_side_renders(runner, tmp_path):
    """Result first: the player needs the edited clip, not the side-by-side download, so a watcher
    sees the clip (status still running, phase rendering) before the side-by-side exists."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=3, width=640, height=360, fps=24, audio=False)
    job = runner.submit("owner-a", EditRequest(prompt="Make it black and white", video=clip),
                        LocalEngine(runner.settings))
    seen = watch_in_thread(runner, job.id, "owner-a")
    early = [j for j in seen if j.status == "running" and j.output_video is not None]
    assert early, [(j.status, j.phase, j.output_video) for j in seen]
    assert early[0].phase == "rendering" and early[0].side_by_side is None
    assert early[0].output_video.is_file()  # on disk when announced
    final = seen[-1]
    assert final.status == "succeeded" and final.output_video == early[0].output_video
    assert final.side_by_side.is_file()


def test_corrupt_clip_fails_with_the_engines_sentence(runner, store, tmp_path):
    request = EditRequest(prompt="Make it black and white", video=make_text_as(tmp_path / "clip.mp4"))
    job = runner.submit("owner-a", request, LocalEngine(runner.settings))
    final = watch_in_thread(runner, job.id, "owner-a")[-1]
    assert final.status == "failed"
    assert "clip.mp4" in final.error and "00" not in final.error and "Traceback" not in final.error
    assert store.get(job.id).error == final.error


def test_request_id_is_stored_as_soon_as_submitted_and_every_tab_can_watch(runner, store, small_clip):
    engine = HeldEngine(name="fal", request_id="req-123")
    job = runner.submit("owner-a", EditRequest(prompt="x", video=small_clip), engine, key_source="server")
    assert engine.started.wait(WAIT_S)
    stored = store.get(job.id)
    assert stored.request_id == "req-123" and stored.status == "running" and stored.phase == "submitted"

    tabs = [Tab(runner, job.id, "owner-a") for _ in range(2)]
    # Both tabs attached to the running job, and ticks keep coming while nothing changes.
    wait_for(lambda: all(len(tab.seen) >= 2 for tab in tabs), "two snapshots in each tab")
    engine.release.set()
    for tab in tabs:
        tab.join()
    for seen in (tab.seen for tab in tabs):
        assert len(seen) >= 2 and seen[0].status == "running" and seen[0].logs == ("first log line",)
        assert seen[-1].status == "succeeded" and seen[-1].request_id == "req-123"
    # A tab opened after the end gets the final state once and ends.
    assert [j.status for j in watch_in_thread(runner, job.id, "owner-a")] == ["succeeded"]


def test_progress_writes_are_throttled_and_the_last_one_still_lands(runner, store, small_clip):
    """300 events in a burst become a handful of writes; the newest state reaches the store anyway."""
    counter = sqlite3.connect(store.db_path)
    counter.executescript("CREATE TABLE writes (phase TEXT);"
                          "CREATE TRIGGER count_writes AFTER UPDATE ON jobs "
                          "BEGIN INSERT INTO writes VALUES (NEW.phase); END;")
    engine = HeldEngine(burst=300)
    job = runner.submit("owner-a", EditRequest(prompt="x", video=small_clip), engine)
    assert engine.started.wait(WAIT_S)
    stored = wait_for(lambda: (j := store.get(job.id)).message == "step 300" and j,
                      "the trailing write")
    assert stored.fraction == pytest.approx(0.8) and stored.logs[-1] == "step 300" and len(stored.logs) == 200
    phases = [row[0] for row in counter.execute("SELECT phase FROM writes")]
    assert 3 <= len(phases) <= 10, phases
    assert "submitted" in phases and "running" in phases  # every phase change is written at once
    engine.release.set()
    assert watch_in_thread(runner, job.id, "owner-a")[-1].status == "succeeded"
    counter.close()


def test_watch_and_cancel_refuse_another_owner(runner, small_clip):
    engine = HeldEngine()
    job = runner.submit("owner-a", EditRequest(prompt="x", video=small_clip), engine)

    async def peek() -> None:
        async for _ in runner.watch(job.id, "owner-b"):
            pass

    with pytest.raises(InputError, match="no edit"):
        asyncio.run(peek())
    assert runner.snapshot(job.id, "owner-b") is None
    assert runner.cancel(job.id, "owner-b") is False
    engine.release.set()
    assert watch_in_thread(runner, job.id, "owner-a")[-1].status == "succeeded"


def test_a_job_waiting_for_a_slot_says_what_it_waits_for(runner, small_clip):
    """The progress panel's first line says when the engine's turn comes, not "Waiting for a free
    engine slot" (a slot is the studio's word, not the user's), and the status word beside it does
    not say it again ("Waiting for a slot · Waiting for its turn")."""
    local, fal = HeldEngine(), HeldEngine(name="fal")
    request = EditRequest(prompt="x", video=small_clip)
    jobs = [runner.submit("owner-a", request, engine) for engine in (local, fal)]
    lines = ["Starts when a run ends: the local preview runs one edit at a time on this machine",
             "Sent to fal when one of the 64 edits this studio has there at once finishes"]
    for job, line in zip(jobs, lines, strict=True):
        assert job.message == line and f"<b>In line</b> · {line}</div>" in progress.render(job)
    local.release.set()
    fal.release.set()
    assert [watch_in_thread(runner, j.id, "owner-a")[-1].status for j in jobs] == ["succeeded"] * 2


def test_cancel_running_and_queued_jobs(runner, store, small_clip):
    """One local slot: the first job holds it, the second waits; both cancel, the waiting one at once."""
    first, second = HeldEngine(), HeldEngine()
    running = runner.submit("owner-a", EditRequest(prompt="x", video=small_clip), first)
    assert first.started.wait(WAIT_S)
    waiting = runner.submit("owner-a", EditRequest(prompt="y", video=small_clip), second)
    assert runner.snapshot(waiting.id, "owner-a").status == "queued"  # the only slot is taken

    assert runner.cancel(waiting.id, "owner-a") is True
    assert watch_in_thread(runner, waiting.id, "owner-a")[-1].message == "Cancelled before it started."
    assert not second.started.is_set() and runner.snapshot(running.id, "owner-a").status == "running"

    assert runner.cancel(running.id, "owner-a") is True
    final = watch_in_thread(runner, running.id, "owner-a")[-1]
    assert final.status == "cancelled" and store.get(running.id).status == "cancelled"
    assert runner.cancel(running.id, "owner-a") is False  # nothing left to cancel


def test_unexpected_engine_error_fails_with_a_generic_sentence(runner, small_clip):
    engine = HeldEngine(fail=RuntimeError("socket exploded at 0x7f3a"))
    engine.release.set()
    job = runner.submit("owner-a", EditRequest(prompt="x", video=small_clip), engine)
    final = watch_in_thread(runner, job.id, "owner-a")[-1]
    assert final.status == "failed" and final.error == INTERNAL_FAILURE.format(id=job.id)
    assert "0x7f3a" not in final.error


def test_inputs_are_copied_once_each_keeping_their_names(tmp_path, small_clip):
    face = make_image(tmp_path / "face.png", width=320, height=320)
    side = make_image(tmp_path / "side.png", width=320, height=320)
    request = EditRequest(prompt="@Element1 in front of @Image1", video=small_clip, images=(face,),
                          elements=(Element(face, (side,)),), keep_audio=True)
    copied = copy_inputs(request, tmp_path / "job" / "inputs")
    assert copied.images[0] == copied.elements[0].frontal  # one copy for a file used twice
    assert [p.name for p in copied.files()] == ["clip.mp4", "face.png", "face.png", "side.png"]
    assert len({p.parent for p in copied.files()}) == 3
    assert all(p.is_relative_to(tmp_path / "job" / "inputs") and p.read_bytes() == o.read_bytes()
               for p, o in zip(copied.files(), request.files(), strict=True))
    assert (copied.prompt, copied.keep_audio) == (request.prompt, request.keep_audio)


def test_missing_input_is_refused_before_anything_is_recorded(runner, store, tmp_path):
    with pytest.raises(InputError, match=r"gone\.mp4"):
        runner.submit("owner-a", EditRequest(prompt="x", video=tmp_path / "gone.mp4"), HeldEngine())
    assert store.list_for_owner("owner-a") == []
    assert list(store.jobs_root.iterdir()) == []


def test_recover_decides_each_kind_of_leftover(settings, small_clip):
    """Rows as a crashed process would leave them; a new runner sorts them out."""
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    request = EditRequest(prompt="x", video=small_clip)

    def leftover(engine: str, key_source, status: str, request_id: str | None = None) -> str:
        job = store.create("owner-a", request, engine, key_source)
        return store.update(job.id, status=status, request_id=request_id).id

    local = leftover("local", None, "running")
    never_sent = leftover("fal", "server", "queued")
    user_key = leftover("fal", "user", "running", "req-user")
    server_key_gone = leftover("fal", "server", "running", "req-server")
    done = leftover("local", None, "succeeded")

    store = JobStore(settings.data_dir / "jobs.sqlite3")

    runner = JobRunner(store, settings)
    try:
        touched = {j.id: j for j in runner.recover(None)}
        assert set(touched) == {local, never_sent, user_key, server_key_gone}
        assert (touched[local].status, touched[local].error) == ("failed", INTERRUPTED_LOCAL)
        assert touched[never_sent].status == "failed"
        assert touched[never_sent].error == INTERRUPTED_BEFORE_SUBMIT
        for job_id, request_id in ((user_key, "req-user"), (server_key_gone, "req-server")):
            assert touched[job_id].status == "waiting_for_key" and request_id in touched[job_id].message
        assert store.get(done).status == "succeeded"
        # A tab watching a parked job gets it once instead of hanging; a second recover changes nothing.
        assert [j.status for j in watch_in_thread(runner, user_key, "owner-a")] == ["waiting_for_key"]
        assert runner.recover(None) == []
        # The user gives up instead of entering a key.
        assert runner.cancel(user_key, "owner-a") is True
        assert store.get(user_key).status == "cancelled"
    finally:
        runner.close()


# ----- fal through the fake server: a real restart in the middle of a paid job ---------------------------


@pytest.fixture(scope="module")
def fake_fal():
    # Long enough that a restart (which takes milliseconds) lands while fal is still running the job.
    with running_fake_fal(keys=("server-key", "user-key"), run_s=0.5) as fake:
        yield fake


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("hd") / "hd.mp4", seconds=3, width=1280, height=720, fps=24,
                     crf=45, audio=False)


@pytest.fixture(scope="module")
def fal_clip(tmp_path_factory) -> Path:
    """The cheapest clip fal accepts (720x720, 24 fps, flat): a restart follows the job, not pixels."""
    return make_clip(tmp_path_factory.mktemp("small") / "small.mp4", seconds=3, width=720, height=720,
                     fps=24, crf=45, audio=False, source="color")


def _fal(key: str, settings: Settings):
    return FalEngine(Secret(key), settings, poll_interval_s=0.05)


def _submit_then_crash(settings: Settings, clip: Path, key: str, key_source: str) -> Job:
    """Runner A submits to fal and dies once fal has the request: the row says running + request id."""
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    first = JobRunner(store, settings)
    try:
        job = first.submit("owner-a", EditRequest(prompt="Make it look like winter", video=clip),
                           _fal(key, settings), key_source=key_source)
        return wait_for(lambda: (j := store.get(job.id)).request_id and j, "a fal request id")
    finally:
        first.close()


def test_restart_resumes_a_server_key_fal_job(fake_fal, settings, fal_clip):
    left = _submit_then_crash(settings, fal_clip, "server-key", "server")
    assert left.status == "running"

    store = JobStore(settings.data_dir / "jobs.sqlite3")

    second = JobRunner(store, settings)
    try:
        assert [j.id for j in second.recover(_fal("server-key", settings))] == [left.id]
        final = watch_in_thread(second, left.id, "owner-a")[-1]
        assert final.status == "succeeded", final.error
        assert final.request_id == left.request_id and final.output_video.is_file()
        assert final.side_by_side.is_file()
    finally:
        second.close()


def test_restart_parks_a_user_key_fal_job_until_the_key_returns(fake_fal, settings, fal_clip):
    left = _submit_then_crash(settings, fal_clip, "user-key", "user")

    store = JobStore(settings.data_dir / "jobs.sqlite3")

    second = JobRunner(store, settings)
    try:
        assert [j.status for j in second.recover(_fal("server-key", settings))] == ["waiting_for_key"]
        resumed = second.resume_waiting("owner-a", _fal("user-key", settings))
        assert [j.id for j in resumed] == [left.id]
        final = watch_in_thread(second, left.id, "owner-a")[-1]
        assert final.status == "succeeded", final.error
        assert final.key_source == "user" and final.output_video.is_file()
        # Reattaching by that id now hands back the stored result instead of fetching it again.
        again = second.resume_by_request_id("owner-a", left.request_id, _fal("user-key", settings))
        assert again.id == left.id
        # Another browser that knows the id gets its own record, without this one's inputs.
        theirs = second.resume_by_request_id("owner-b", left.request_id, _fal("user-key", settings))
        other = watch_in_thread(second, theirs.id, "owner-b")[-1]
        assert other.status == "succeeded" and other.is_stub and other.side_by_side is None
        assert other.output_video.is_file() and "side-by-side" in " ".join(other.notes)
    finally:
        second.close()


def test_a_fal_result_reaches_watchers_before_its_side_by_side(fake_fal, settings, hd_clip):
    """Result first on fal too: once the result is downloaded the watcher has it, while the
    side-by-side of the 1280x720 pair still renders."""
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    runner = JobRunner(store, settings, watch_tick_s=0.2)
    try:
        job = runner.submit("owner-a", EditRequest(prompt="Make it look like winter", video=hd_clip),
                            _fal("server-key", settings), key_source="server")
        seen = watch_in_thread(runner, job.id, "owner-a")
        early = [j for j in seen if j.status == "running" and j.output_video is not None]
        assert early and early[0].side_by_side is None and early[0].request_id, [
            (j.status, j.phase) for j in seen]
        assert early[0].output_video.is_file()
        assert seen[-1].status == "succeeded" and seen[-1].side_by_side.is_file()
    finally:
        runner.close()
