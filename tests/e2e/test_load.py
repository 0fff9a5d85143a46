"""Many visitors at once: gradio_client sessions with their own fal keys plus local-preview
sessions, all editing at the same time, then the same under injected 429/500 faults.

What must hold: no errors, every result reaches the session that asked (its own clip, its own
key at fal), no owner sees another's jobs, every job ends in a clear state, and no finished result
is lost. Wall time and the app's peak memory (process tree) are printed for the closing note.

As heavy as that needs and no heavier: 8 fal sessions at once (each its own owner, key and clip)
are four times the render slots, so jobs wait, interleave and finish out of order; more sessions
only repeat the same side-by-side renders (the CPU cost) on a 2-core machine, and would have to
share clips. The clips are the cheapest fal accepts and their lengths differ by six frames, so a
result's length tells whose clip it is. Both runs use one fake fal and one app (each launch costs
seconds); each counts only the jobs, owners and submits it added.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import psutil
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from components.media.probe import probe
from components.secret import Secret
from tests.e2e.app_server import AppServer, api_client, close_soon, launch_later, prelaunched
from tests.fakes.fal_fixtures import running_fake_fal
from tests.mediagen import make_clip

pytestmark = pytest.mark.timeout(600)

FPS = 24  # fal's schema accepts 24-60 fps (the fake measures it)
# A clip's length (72..114 frames) tells whose result a file is: one clip per fal session.
DURATIONS = [3.0 + 0.25 * i for i in range(8)]
N_FAL = len(DURATIONS)
N_LOCAL = 2
N_FAULTY = len(DURATIONS)  # sessions in the fault run: each fault it injects hits a request of its own
SUBMIT_FAULTS = 2  # submits refused with 500: the only edits allowed to fail


LOAD_KEYS = [f"load-key-{i:02d}:{'x' * 12}" for i in range(N_FAL)]
FAULT_KEYS = [f"fault-key-{i:02d}:{'y' * 12}" for i in range(N_FAULTY)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("load")
    # 720x720 at 24 fps, flat colour: the cheapest clip fal's schema accepts (each side >= 720 px,
    # >= 24 fps), so the renders measure the app's concurrency, not x264.
    return [make_clip(d / f"clip{i}.mp4", seconds=s, width=720, height=720, fps=FPS, crf=45,
                      source="color",
                      tone=300 + 50 * i) for i, s in enumerate(DURATIONS)]


class PeakMemory:
    """Samples the app's whole process tree (python + its ffmpeg children) every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for proc in [self.root, *self.root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a child may exit between listing and reading
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _edit(url: str, clip: Path, key: str, prompt: str):
    client = api_client(url)
    try:
        return client.predict(video=handle_file(str(clip)), prompt=prompt, images=[], elements=[],
                              keep_audio=False, fal_key=key, api_name="/edit")
    finally:
        close_soon(client)


def _jobs(data: Path) -> dict[str, tuple[str, str, str | None, str | None]]:
    """Every job in the app's store: id -> (owner, status, request id, output video)."""
    db = sqlite3.connect(data / "jobs.sqlite3")
    try:
        rows = db.execute("SELECT id, owner, status, request_id, output_video FROM jobs").fetchall()
    finally:
        db.close()
    return {job_id: tuple(rest) for job_id, *rest in rows}


def prelaunch(root: Path, stack: ExitStack) -> tuple[tuple, tuple[AppServer, ...]]:
    """(fake fal, app, the app's data folder), the fake knowing every session's key; launched ahead
    of the module (tests/e2e/app_server.py)."""
    data = root / "data"
    fake = stack.enter_context(running_fake_fal(keys=(*LOAD_KEYS, *FAULT_KEYS), queue_s=1.0, run_s=1.0,
                                                point_client=False))
    app = AppServer(data, fake_fal_url=fake.url,
                    env={"STUDIO_LOCAL_CONCURRENCY": "2", "STUDIO_RENDER_CONCURRENCY": "2"})
    return (fake, app, data), launch_later(stack, app)


@pytest.fixture(scope="module")
def served() -> tuple:
    return prelaunched(__name__)


def test_many_fal_sessions_and_local_ones_at_once(served, clips):
    fake, app, data = served
    keys = LOAD_KEYS
    jobs_before, submits_before = set(_jobs(data)), fake.submits
    jobs = [(clips[i % len(clips)], keys[i], "Make it look like a film noir") for i in range(N_FAL)]
    jobs += [(clips[i], "", "Make it black and white") for i in range(N_LOCAL)]
    began = time.monotonic()
    with PeakMemory(app.proc.pid) as memory, ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(_edit, app.url, clip, key, prompt) for clip, key, prompt in jobs]
        results = [f.result() for f in futures]  # any AppError fails the test here
    wall = time.monotonic() - began
    print(f"\nload: {len(jobs)} sessions ({N_FAL} fal, {N_LOCAL} local) in {wall:.1f} s wall, "
          f"app peak RSS {memory.peak / 2**20:.0f} MiB")

    for (clip, key, _), (edited, side, details) in zip(jobs, results, strict=True):
        expected = probe(clip).duration
        assert abs(probe(edited).duration - expected) < 0.15, "a session got someone else's clip"
        assert probe(side).width > probe(edited).width
        if key:
            assert details["engine"] == "fal"
            job = fake.jobs[details["request_id"]]
            assert job.key_fingerprint == Secret(key).fingerprint, "a job ran on another session's key"
        else:
            assert details["engine"] == "local" and details["request_id"] is None
    assert fake.submits - submits_before == N_FAL
    owners = Counter(owner for job_id, (owner, *_) in _jobs(data).items() if job_id not in jobs_before)
    assert len(owners) == len(jobs) and set(owners.values()) == {1}, "each session owns exactly its job"
    log = app.log()
    assert not any(key in log for key in keys), "a fal key reached the app's log"


def test_faults_under_load_end_in_clear_states_and_lose_no_result(served, clips):
    fake, app, data = served
    keys = FAULT_KEYS
    jobs_before = set(_jobs(data))
    try:
        fake.set_fault("cdn_upload_status", count=5, status=429)  # retried by fal_client
        fake.set_fault("submit_status", count=SUBMIT_FAULTS, status=500)  # not retried: fails, nothing paid
        fake.set_fault("result_status", count=2, status=500)  # paid and finished: must not be lost

        def attempt(i: int):
            try:
                return "ok", _edit(app.url, clips[i % len(clips)], keys[i], "Make it look like a warm sunset")
            except AppError as error:
                return "error", str(error)

        with ThreadPoolExecutor(len(keys)) as pool:
            outcomes = list(pool.map(attempt, range(len(keys))))
        errors = [text for kind, text in outcomes if kind == "error"]
        print(f"\nfaults: {len(keys) - len(errors)} succeeded, {len(errors)} failed: {sorted(set(errors))}")
        for text in errors:
            assert "Traceback" not in text and len(text) > 20
            assert any(word in text for word in ("temporar", "try again", "fal")), text
        assert len(errors) <= SUBMIT_FAULTS, \
            "only the submits refused with 500 may fail; results and uploads recover"

        rows = [row[1:] for job_id, row in _jobs(data).items() if job_id not in jobs_before]
        assert len(rows) == len(keys)
        assert {status for status, _, _ in rows} <= {"succeeded", "failed"}, "a job was left hanging"
        finished_at_fal = {rid for rid, job in fake.jobs.items() if job.done.is_set()}
        for status, request_id, output in rows:
            if request_id in finished_at_fal:
                assert status == "succeeded" and output and Path(output).is_file(), \
                    f"fal finished {request_id} (paid) but the app lost its result"
    finally:
        fake.clear_faults()  # a fault left unused must not hit the other run
