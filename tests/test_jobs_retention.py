"""Retention: old and excess outputs go oldest first, history keeps why, live jobs are never touched."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from components.config import Settings
from components.edit.request import EditRequest
from components.engines.base import EditResult
from components.jobs.retention import apply_retention, folder_bytes
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from tests.mediagen import make_clip

DAY = 86400.0
MB = 1024 * 1024


def _job_with_files(store: JobStore, status: str, *, mb: float, finished_days_ago: float | None = None,
                    owner: str = "owner-a") -> str:
    job = store.create(owner, EditRequest(prompt="x", video=Path("clip.mp4")), "local", None)
    folder = store.job_dir(job.id)
    folder.mkdir(parents=True)
    (folder / "edited.mp4").write_bytes(b"\0" * int(mb * MB))
    changes: dict = {"status": status, "output_video": folder / "edited.mp4"}
    if finished_days_ago is not None:
        changes["finished_at"] = time.time() - finished_days_ago * DAY
    store.update(job.id, **changes)
    return job.id


def test_age_cap_removes_old_finished_outputs_only(tmp_path):
    settings = Settings(data_dir=tmp_path, retention_days=7)
    store = JobStore(tmp_path / "jobs.sqlite3")
    old_ok = _job_with_files(store, "succeeded", mb=0.1, finished_days_ago=8)
    old_failed = _job_with_files(store, "failed", mb=0.1, finished_days_ago=30)
    recent = _job_with_files(store, "succeeded", mb=0.1, finished_days_ago=6)
    running = _job_with_files(store, "running", mb=0.1)
    waiting = _job_with_files(store, "waiting_for_key", mb=0.1)
    # Unfinished jobs with a week-old start are still not touched.
    for job_id in (running, waiting):
        store.update(job_id, started_at=time.time() - 30 * DAY)

    expired = apply_retention(store, settings)

    assert {j.id for j in expired} == {old_ok, old_failed}
    for job_id in (old_ok, old_failed):
        job = store.get(job_id)
        assert job.expired and job.expired_reason == "Output removed after 7 days (retention)."
        assert not store.job_dir(job_id).exists()
    for job_id in (recent, running, waiting):
        assert not store.get(job_id).expired and (store.job_dir(job_id) / "edited.mp4").is_file()
    assert apply_retention(store, settings) == []  # nothing left to do: a second pass is a no-op


def test_size_cap_removes_oldest_finished_first_and_spares_live_jobs(tmp_path):
    settings = Settings(data_dir=tmp_path, retention_max_gb=2.5 * MB / 1024**3)
    store = JobStore(tmp_path / "jobs.sqlite3")
    finished = [_job_with_files(store, "succeeded", mb=1, finished_days_ago=days) for days in (4, 3, 2, 1)]
    running = _job_with_files(store, "running", mb=1)
    assert folder_bytes(store.jobs_root) == 5 * MB

    expired = apply_retention(store, settings)

    assert [j.id for j in expired] == finished[:3]  # oldest first, until 2 MB <= 2.5 MB
    assert expired[0].expired_reason.startswith("Output removed to keep stored edits under 2.5 MB")
    assert not store.get(finished[3]).expired and store.job_dir(finished[3]).is_dir()
    assert store.job_dir(running).is_dir() and not store.get(running).expired
    assert folder_bytes(store.jobs_root) == 2 * MB


class _HeldLocal:
    """Timing control only: keeps a job running (with a file in its folder) until released."""

    name = "local"
    label = "held for a test"
    concurrency_key = "local"
    can_resume = False

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()
        self.running = threading.Event()

    async def edit(self, request, workdir, on_event, cancel) -> EditResult:
        out = workdir / "edited.mp4"
        out.write_bytes(request.video.read_bytes())
        self.running.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return EditResult(video=out, engine=self.name)


def test_runner_retention_never_removes_a_running_job(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", retention_days=0, retention_max_gb=0)
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    runner = JobRunner(store, settings)
    try:
        clip = make_clip(tmp_path / "clip.mp4", seconds=1, width=160, height=120, fps=5, audio=False)
        engine = _HeldLocal()
        job = runner.submit("owner-a", EditRequest(prompt="x", video=clip), engine)
        assert engine.running.wait(30)

        assert runner.run_retention() == []  # both caps are zero, and still the running job stays
        assert (store.job_dir(job.id) / "edited.mp4").is_file()

        engine.release.set()
        deadline = time.monotonic() + 30
        while not store.get(job.id).is_finished and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [j.id for j in runner.run_retention()] == [job.id]  # finished: now it may go
        assert store.get(job.id).expired and not store.job_dir(job.id).exists()
    finally:
        runner.close()
