"""The job store: what one process writes, another reads back exactly, whoever writes at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from components.edit.request import EditRequest, Element
from components.jobs.models import MAX_LOG_LINES
from components.jobs.store import JobStore


def _request(folder: Path) -> EditRequest:
    return EditRequest(prompt="Replace the character with @Element1", video=folder / "clip.mp4",
                       images=(folder / "bg.png",),
                       elements=(Element(folder / "front.png", (folder / "side.png",)),),
                       keep_audio=True, extra={"source_url": "https://example.com/clip.mp4"})


def test_round_trip_through_a_second_store(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.create("owner-a", _request(tmp_path), "fal", "user")
    assert len(job.id) == 32 and job.status == "queued" and job.created_at == job.updated_at

    store.update(job.id, status="running", phase="submitted", message="Submitted", fraction=0.3,
                 request_id="req-1", logs=[f"line {i}" for i in range(MAX_LOG_LINES + 50)],
                 arguments={"prompt": "x", "video_url": "https://cdn/clip.mp4", "keep_audio": True},
                 timings={"upload": 1.5}, notes=("kept audio",), started_at=job.created_at + 1)
    done = store.update(job.id, status="succeeded", output_video=tmp_path / "edited.mp4",
                        side_by_side=tmp_path / "sbs.mp4", remote_url="https://cdn/out.mp4")
    assert done.finished_at is not None and done.finished_at >= done.created_at

    again = JobStore(tmp_path / "jobs.sqlite3").get(job.id)  # as the next process would read it
    assert again == done
    assert again.edit_request() == _request(tmp_path)
    assert again.logs[0] == "line 50" and len(again.logs) == MAX_LOG_LINES
    assert again.output_video == tmp_path / "edited.mp4" and again.notes == ("kept audio",)
    assert again.arguments["video_url"] == "https://cdn/clip.mp4" and again.timings == {"upload": 1.5}
    assert store.job_dir(job.id) == tmp_path / "jobs" / job.id


def test_update_refuses_unknown_and_identity_fields(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.create("owner-a", _request(tmp_path), "local", None)
    with pytest.raises(ValueError, match="owner"):
        store.update(job.id, owner="owner-b")
    with pytest.raises(ValueError, match="colour"):
        store.update(job.id, colour="red")
    with pytest.raises(KeyError):
        store.update("no-such-job", status="failed")
    assert store.get(job.id).owner == "owner-a"


def test_owner_isolation(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    mine = store.create("owner-a", _request(tmp_path), "local", None)
    theirs = store.create("owner-b", _request(tmp_path), "fal", "server")
    store.update(theirs.id, request_id="req-b")

    assert store.get_for_owner(mine.id, "owner-a").id == mine.id
    assert store.get_for_owner(theirs.id, "owner-a") is None
    assert [j.id for j in store.list_for_owner("owner-a")] == [mine.id]
    assert store.find_by_request_id("owner-a", "req-b") is None
    assert store.find_by_request_id("owner-b", "req-b").id == theirs.id


def test_history_is_newest_first_and_limited(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    ids = [store.create("owner-a", _request(tmp_path), "local", None).id for _ in range(5)]
    assert [j.id for j in store.list_for_owner("owner-a")] == ids[::-1]
    assert [j.id for j in store.list_for_owner("owner-a", limit=2)] == [ids[4], ids[3]]


def test_unfinished_lists_only_what_recovery_must_decide(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    by_status = {}
    for status in ("queued", "running", "waiting_for_key", "succeeded", "failed", "cancelled"):
        job = store.create("owner-a", _request(tmp_path), "fal", "user")
        by_status[status] = store.update(job.id, status=status)
    assert [j.status for j in store.unfinished()] == ["queued", "running", "waiting_for_key"]
    assert [j.id for j in store.waiting_for_key("owner-a")] == [by_status["waiting_for_key"].id]
    assert {j.status for j in store.finished_with_files()} == {"succeeded", "failed", "cancelled"}
    assert by_status["running"].finished_at is None and by_status["cancelled"].finished_at is not None


def test_concurrent_writers_from_threads(tmp_path):
    """Eight threads (the runner, engine workers, handlers) create and update at once: no write is
    lost and none fails with 'database is locked'."""
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    errors: list[BaseException] = []
    created: list[str] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            other = JobStore(db) if n % 2 else store  # separate stores, as two processes would be
            barrier.wait()
            for i in range(15):
                job = other.create(f"owner-{n}", _request(tmp_path), "local", None)
                for step in range(5):
                    other.update(job.id, fraction=step / 4, message=f"{n}/{i}/{step}",
                                 logs=[f"log {n} {i} {step}"])
                other.update(job.id, status="succeeded")
                created.append(job.id)
        except BaseException as error:  # reported below with the thread's failure
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(created) == 8 * 15
    for n in range(8):
        jobs = store.list_for_owner(f"owner-{n}", limit=100)
        assert len(jobs) == 15
        assert all(j.status == "succeeded" and j.fraction == 1.0 and j.message.endswith("/4")
                   for j in jobs)
