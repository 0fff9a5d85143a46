"""FalEngine driving the real fal_client against the fake fal server: the paths that succeed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import fal_client.client as fal_http
import pytest

from components.config import Settings
from components.edit.request import EditRequest
from components.engines import fal_uploads
from components.engines.base import CancelToken
from components.engines.fal import FAL_REQUESTS_AT_ONCE, FalEngine
from components.engines.upload_cache import SAFETY_MARGIN_S, UploadCache
from components.errors import EngineError, JobCancelled
from components.media.probe import probe
from components.media.scrub import scrubbed
from components.secret import Secret
from components.units import human_size
from tests.fakes.fal_fixtures import EventLog, running_fake_fal, sample_request
from tests.fakes.fal_server import LOG_MESSAGES
from tests.mediagen import make_image, make_phone_clip, private_markers

KEY = "test-key"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory):
    return sample_request(tmp_path_factory.mktemp("fal-inputs"), images=1, elements=1)


def sent_size(request: EditRequest, folder: Path) -> int:
    """What leaves for fal: the clip remuxed without metadata, the pictures (they carry none) as they are."""
    return scrubbed(request.video, folder).stat().st_size + sum(p.stat().st_size for p in request.files()[1:])


def engine(tmp_path: Path, key: str = KEY, **kwargs) -> FalEngine:
    settings = replace(Settings(), data_dir=tmp_path / "data")
    return FalEngine(Secret(key), settings, poll_interval_s=0.02, **kwargs)


def test_happy_path_reports_queue_positions_new_logs_and_returns_a_probed_video(inputs, tmp_path):
    # Half a second at each of the three positions: a poll lands in each even on a busy machine.
    with running_fake_fal(queue_s=1.5, run_s=0.4) as fake:
        events = EventLog()
        result = asyncio.run(engine(tmp_path).edit(inputs, tmp_path / "job", events, CancelToken()))

        job = fake.jobs[result.request_id]
        assert job.arguments == result.arguments  # the exact arguments sent are the ones kept
        assert result.arguments["image_urls"][0].startswith(fake.url)
        assert result.arguments["elements"][0]["frontal_image_url"].startswith(fake.url)
    phases = events.phases()
    assert phases[0] == "preparing" and phases[-1] == "done"
    order = ["uploading", "submitted", "queued", "running", "downloading", "done"]
    assert [p for p in dict.fromkeys(phases) if p in order] == order
    submitted = events.of("submitted")
    assert len(submitted) == 1 and submitted[0].request_id == result.request_id
    positions = [e.queue_position for e in events.of("queued")]
    assert positions == sorted(positions, reverse=True) and positions[-1] == 0 and len(set(positions)) > 1
    logs = [line for e in events.of("running") for line in e.logs]
    assert logs == list(LOG_MESSAGES)  # every line once: only new lines per event
    uploads = events.of("uploading")
    assert uploads[-1].bytes_done == uploads[-1].bytes_total == sum(p.stat().st_size for p in inputs.files())
    elapsed = [e.elapsed for e in events.events]
    assert elapsed == sorted(elapsed)

    assert result.engine == "fal" and result.video == tmp_path / "job" / "edited.mp4"
    assert result.remote_url and "/files/out/" in result.remote_url
    assert set(result.timings) == {"upload", "queue", "run", "download"}
    # Measured as the client saw it, so bounded by what the fake did after the upload: queued for
    # 1.5 s, then at work for 0.4 s. How the two split depends on when a poll lands: one delayed
    # past the whole run (a busy machine) sees the job done straight from the queue, a run of 0.
    queue, ran = result.timings["queue"], result.timings["run"]
    assert queue >= 1.5 and ran >= 0 and queue + ran >= 1.9 - 0.001, result.timings  # laps keep 3 decimals
    info = probe(result.video)
    assert (info.width, info.height) == (1280, 720) and info.duration == pytest.approx(3.2, abs=0.3)


def test_the_upload_and_queue_lines_read_as_sentences(inputs, tmp_path):
    """What the progress panel says while the files go up and while fal has the job next in line:
    "Uploading 4 files, …" (not "4 file(s)") and "Queued at fal: next in line" (not "position 0")."""
    with running_fake_fal(queue_s=0.6, run_s=0.1, queue_positions=1):  # position 0 while queued
        events = EventLog()
        asyncio.run(engine(tmp_path).edit(inputs, tmp_path / "job", events, CancelToken()))
    files = inputs.files()
    size = human_size(sum(p.stat().st_size for p in files))
    assert events.of("uploading")[0].message == f"Uploading {len(files)} files, {size}"
    queued = events.of("queued")
    assert queued and {e.message for e in queued} == {"Queued at fal: next in line"}


def test_nothing_private_leaves_for_fal_nor_comes_back_from_it(tmp_path):
    """A phone clip (title, GPS, device, creation times, turned 90 degrees) and a photo with its
    EXIF: fal gets both without any of it, the portrait stays portrait, the sound stays; a result
    that comes back tagged is downloaded without its tags."""
    clip = make_phone_clip(tmp_path / "in" / "IMG_0042.MOV", seconds=3.2, width=1280, height=720, fps=24,
                           rotate=90)
    photo = make_image(tmp_path / "in" / "photo.jpg",
                       exif={0x010E: "Secret birthday", 0x0110: "iPhone 15 Pro"})
    assert private_markers(clip) and private_markers(photo)
    request = EditRequest("Make it look like @Image1", clip, images=(photo,))
    with running_fake_fal(tagged_output=True) as fake:
        result = asyncio.run(engine(tmp_path).edit(request, tmp_path / "job", EventLog(), CancelToken()))
        sent = {Path(f.name).suffix: f.path for f in fake.files.values() if f.owner}
    assert set(sent) == {".MOV", ".jpg"}  # the clip, and the photo (an upright copy of it)
    assert {kind: private_markers(path) for kind, path in sent.items()} == {".MOV": [], ".jpg": []}
    info = probe(sent[".MOV"])
    assert (info.rotation, info.width, info.height, info.has_audio) == (90, 720, 1280, True)
    assert info.container == "mov" and info.frame_count == probe(clip).frame_count
    assert private_markers(result.video) == []


def test_same_inputs_upload_zero_bytes_the_second_time_even_after_a_restart(inputs, tmp_path):
    with running_fake_fal() as fake:
        first = engine(tmp_path)
        asyncio.run(first.edit(inputs, tmp_path / "a", EventLog(), CancelToken()))
        sent = fake.uploaded_bytes
        assert sent == first.stats.bytes_uploaded == sent_size(inputs, tmp_path / "clean")

        second = engine(tmp_path)  # a new engine object shares the process-wide cache
        events = EventLog()
        asyncio.run(second.edit(inputs, tmp_path / "b", events, CancelToken()))
        assert fake.uploaded_bytes == sent and second.stats.bytes_uploaded == 0
        assert second.stats.cache_hits == len(inputs.files()) == 4  # clip, image, frontal, side view
        assert events.of("uploading")[-1].bytes_done == events.of("uploading")[-1].bytes_total

        restarted = engine(tmp_path, upload_cache=UploadCache(tmp_path / "data" / "upload_cache.json"))
        asyncio.run(restarted.edit(inputs, tmp_path / "c", EventLog(), CancelToken()))
        assert fake.uploaded_bytes == sent and restarted.stats.bytes_uploaded == 0
    assert KEY not in (tmp_path / "data" / "upload_cache.json").read_text()


def test_edits_started_together_with_the_same_inputs_upload_them_once(inputs, tmp_path):
    with running_fake_fal() as fake:
        shared = engine(tmp_path)

        async def three():
            return await asyncio.gather(*(shared.edit(inputs, tmp_path / f"job{i}", EventLog(), CancelToken())
                                          for i in range(3)))

        results = asyncio.run(three())
        assert fake.uploaded_bytes == sent_size(inputs, tmp_path / "clean") and fake.submits == 3
    assert len({r.arguments["video_url"] for r in results}) == 1


def test_hundreds_of_polling_jobs_keep_at_most_a_pools_worth_of_requests_open(inputs, tmp_path):
    """fal_client's one httpx pool scans its queued requests against its connections on every send,
    so jobs polling together must wait at the engine, not queue inside the pool."""
    jobs = 3 * FAL_REQUESTS_AT_ONCE
    with running_fake_fal(queue_s=0.5, run_s=0.5) as fake:
        fake.set_fault("slow", seconds=0.2)  # each poll stays open a while: they overlap
        shared = engine(tmp_path)

        async def crowd():
            return await asyncio.gather(*(shared.edit(inputs, tmp_path / f"job{i}", EventLog(), CancelToken())
                                          for i in range(jobs)))

        results = asyncio.run(crowd())
        assert len({r.request_id for r in results}) == jobs and fake.submits == jobs
        assert fake.status_calls > jobs
        assert 1 < fake.status_peak <= FAL_REQUESTS_AT_ONCE, fake.stats()


def test_cancel_while_queued_cancels_at_fal(inputs, tmp_path):
    with running_fake_fal(stuck_in_queue=True) as fake:
        cancel = CancelToken()
        events = EventLog(lambda e: cancel.cancel() if e.phase == "queued" else None)
        with pytest.raises(JobCancelled) as caught:
            asyncio.run(engine(tmp_path).edit(inputs, tmp_path / "job", events, cancel))
        assert fake.cancels == [events.request_id]
        assert events.request_id in str(caught.value)
        assert fake.jobs[events.request_id].cancelled


def test_cancel_during_upload_stops_before_submit(inputs, tmp_path):
    with running_fake_fal() as fake:
        cancel = CancelToken()
        events = EventLog(lambda e: cancel.cancel() if e.phase == "uploading" else None)
        with pytest.raises(JobCancelled, match="nothing was charged"):
            asyncio.run(engine(tmp_path).edit(inputs, tmp_path / "job", events, cancel))
        assert fake.submits == 0 and "submitted" not in events.phases()


def test_resume_by_request_id_in_a_fresh_engine(inputs, tmp_path):
    with running_fake_fal(run_s=0.3) as fake:
        async def submit_then_die() -> str:
            submitted = asyncio.get_running_loop().create_future()
            events = EventLog(lambda e: e.phase == "submitted" and submitted.set_result(e.request_id))
            edit = engine(tmp_path).edit(inputs, tmp_path / "lost", events, CancelToken())
            task = asyncio.create_task(edit)
            rid = await submitted
            task.cancel()  # the process "dies" right after submitting
            await asyncio.gather(task, return_exceptions=True)
            return rid

        rid = asyncio.run(submit_then_die())
        fal_uploads.forget_clients()  # nothing cached survives a restart
        events = EventLog()
        result = asyncio.run(engine(tmp_path).resume(rid, tmp_path / "resumed", events, CancelToken()))
        assert result.request_id == rid and fake.submits == 1
        assert events.of("submitted")[0].request_id == rid
        assert probe(result.video).duration == pytest.approx(3.2, abs=0.3)
        assert any(rid in note for note in result.notes)


def test_resuming_another_keys_request_is_refused_like_an_unknown_one(inputs, tmp_path):
    with running_fake_fal(keys=(KEY, "other-key")):
        mine = asyncio.run(engine(tmp_path).edit(inputs, tmp_path / "job", EventLog(), CancelToken()))
        with pytest.raises(EngineError) as caught:
            asyncio.run(engine(tmp_path, "other-key").resume(mine.request_id, tmp_path / "theirs", EventLog(),
                                                             CancelToken()))
    assert str(caught.value) == (f"fal does not know request {mine.request_id} (HTTP 404). Check the request "
                                 "id, and that the job was started with this same fal key.")
    assert not (tmp_path / "theirs").exists()


def test_large_files_go_multipart(inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(fal_http, "MULTIPART_THRESHOLD", 64 * 1024)
    monkeypatch.setattr(fal_http, "MULTIPART_CHUNK_SIZE", 64 * 1024)
    with running_fake_fal() as fake:
        result = asyncio.run(engine(tmp_path).edit(inputs, tmp_path / "job", EventLog(), CancelToken()))
        video_size = scrubbed(inputs.video, tmp_path / "clean").stat().st_size
        assert fake.multipart_parts == -(-video_size // (64 * 1024)) and fake.multipart_parts > 1
        assert fake.uploaded_bytes == sent_size(inputs, tmp_path / "clean")
    assert probe(result.video).width == 1280


def test_cdn_failure_falls_back_to_storage_upload(inputs, tmp_path):
    with running_fake_fal(cdn_upload_status={"status": 500}) as fake:
        result = asyncio.run(engine(tmp_path).edit(inputs, tmp_path / "job", EventLog(), CancelToken()))
        assert fake.gcs_uploads == len(inputs.files())
    assert probe(result.video).width == 1280


def test_two_keys_in_parallel_never_cross(inputs, tmp_path):
    folder = inputs.video.parent
    request_b = sample_request(folder, images=2, tag="b")  # same clip, other pictures
    with running_fake_fal(keys=("key-a", "key-b"), run_s=0.2) as fake:
        async def both():
            a = engine(tmp_path, "key-a").edit(inputs, tmp_path / "a", EventLog(), CancelToken())
            b = engine(tmp_path, "key-b").edit(request_b, tmp_path / "b", EventLog(), CancelToken())
            return await asyncio.gather(a, b)

        result_a, result_b = asyncio.run(both())
        job_a, job_b = fake.jobs[result_a.request_id], fake.jobs[result_b.request_id]
        assert job_a.key_fingerprint == Secret("key-a").fingerprint
        assert job_b.key_fingerprint == Secret("key-b").fingerprint
        assert job_a.arguments == result_a.arguments and job_b.arguments == result_b.arguments
        assert len(result_b.arguments["image_urls"]) == 2 and "elements" not in result_b.arguments
        # The shared clip was uploaded once per key: caches never lend one key's URL to another.
        assert result_a.arguments["video_url"] != result_b.arguments["video_url"]
        owners = {f.owner for f in fake.files.values() if f.name.endswith(inputs.video.name)}
        assert owners == {Secret("key-a").fingerprint, Secret("key-b").fingerprint}


def test_upload_cache_forgets_urls_before_they_expire_and_keeps_keys_apart(tmp_path):
    now = [1_000_000.0]
    path = tmp_path / "cache.json"
    cache = UploadCache(path, clock=lambda: now[0])
    cache.put("fp-a", "sha", "https://cdn/x", ttl_s=86400)
    assert cache.get("fp-a", "sha") == "https://cdn/x" and cache.get("fp-b", "sha") is None
    assert UploadCache(path, clock=lambda: now[0]).get("fp-a", "sha") == "https://cdn/x"  # persisted
    now[0] += 86400 - SAFETY_MARGIN_S + 1  # still valid at fal, but too close to its end to reuse
    assert cache.get("fp-a", "sha") is None
