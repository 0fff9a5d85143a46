"""The fake fal server speaks the protocol fal_client 1.0.3 expects (wire level and through the client)."""

from __future__ import annotations

import time
from datetime import datetime

import cv2
import fal_client
import httpx
import numpy as np
import pytest
from fal_client.client import Completed, FalClientHTTPError, InProgress, Queued

from components.config import MODEL_ID
from components.secret import Secret
from tests.fakes.fal_fixtures import running_fake_fal, sample_request
from tests.fakes.fal_server import LOG_MESSAGES

KEY, OTHER = "wire-key", "other-key"


@pytest.fixture(scope="module")
def fake():
    with running_fake_fal(keys=(KEY, OTHER), queue_s=0.5, run_s=0.5, queue_positions=2) as server:
        yield server


@pytest.fixture(scope="module")
def video_url(fake, tmp_path_factory):
    request = sample_request(tmp_path_factory.mktemp("wire"), images=0)
    return fal_client.SyncClient(key=KEY).upload_file(request.video), request.video


def http(key: str | None = KEY) -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"Key {key}"} if key else {}, timeout=10)


def wait_done(client: httpx.Client, status_url: str, timeout_s: float = 60.0) -> dict:
    """Poll until COMPLETED; the deadline is in seconds, not polls, so a busy machine only slows it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(status_url, params={"logs": "true"}).json()
        if body["status"] == "COMPLETED":
            return body
        time.sleep(0.05)
    raise AssertionError("the fake never completed")


def test_submit_answers_with_production_style_urls_and_the_status_walks_the_queue(fake, video_url):
    with http() as client:
        answer = client.post(f"{fake.url}/{MODEL_ID}", json={"prompt": "negate", "video_url": video_url[0]})
        assert answer.status_code == 200
        body = answer.json()
        rid = body["request_id"]
        base = f"{fake.url}/fal-ai/kling-video/requests/{rid}"
        assert (body["response_url"], body["status_url"], body["cancel_url"]) == (
            base, base + "/status", base + "/cancel")
        assert body["status"] == "IN_QUEUE" and body["queue_position"] == 2

        seen: list[str] = []
        while True:
            quiet = client.get(base + "/status", params={"logs": "false"}).json()
            loud = client.get(base + "/status", params={"logs": "true"}).json()
            seen.append(loud["status"])
            if quiet["status"] != "IN_QUEUE":
                assert quiet["logs"] is None
            if loud["status"] == "IN_QUEUE":
                assert "logs" not in loud and loud["queue_position"] in (0, 1, 2)
            else:
                assert isinstance(loud["logs"], list)
            if loud["status"] == "COMPLETED":
                break
            time.sleep(0.03)
        assert [m["message"] for m in loud["logs"]] == list(LOG_MESSAGES)
        assert set(loud["logs"][0]) == {"message", "level", "source", "timestamp"}
        assert list(dict.fromkeys(seen)) == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]

        video = client.get(base).json()["video"]
        assert video["content_type"] == "video/mp4" and video["file_size"] > 0
        clip = httpx.get(video["url"])  # CDN files are public: no key
        assert clip.headers["content-type"] == "video/mp4" and len(clip.content) == video["file_size"]


def test_the_output_is_the_source_with_inverted_colours(fake, video_url, tmp_path):
    result = fal_client.SyncClient(key=KEY).subscribe(MODEL_ID, {"prompt": "p", "video_url": video_url[0]})
    out = tmp_path / "out.mp4"
    out.write_bytes(httpx.get(result["video"]["url"]).content)
    frames = []
    for path in (video_url[1], out):
        cap = cv2.VideoCapture(str(path))
        ok, frame = cap.read()
        cap.release()
        assert ok
        frames.append(frame.astype(np.int16))
    assert frames[0].shape == frames[1].shape
    assert np.abs(frames[0] + frames[1] - 255).mean() < 12


def test_the_real_client_subscribes_with_logs_and_queue_updates(fake, video_url):
    updates = []
    result = fal_client.SyncClient(key=KEY).subscribe(
        MODEL_ID, {"prompt": "p", "video_url": video_url[0]}, with_logs=True, on_queue_update=updates.append)
    kinds = [type(u) for u in updates]
    assert kinds[0] is Queued and kinds[-1] is Completed and InProgress in kinds
    assert result["video"]["url"].startswith(fake.url)


def test_keys_are_checked_and_jobs_are_private_to_their_key(fake, video_url):
    token_url = f"{fake.url}/storage/auth/token?storage_type=fal-cdn-v3"
    with http(None) as anonymous, http("nobody") as stranger:
        assert anonymous.post(f"{fake.url}/{MODEL_ID}", json={}).status_code == 401
        assert stranger.post(token_url, json={}).status_code == 401
    with http() as owner, http(OTHER) as other:
        submitted = owner.post(f"{fake.url}/{MODEL_ID}", json={"prompt": "p", "video_url": video_url[0]})
        rid = submitted.json()["request_id"]
        base = f"{fake.url}/fal-ai/kling-video/requests/{rid}"
        assert other.get(base + "/status").status_code == 404
        assert other.put(base + "/cancel").status_code == 404
        assert owner.get(base + "/status").status_code == 200
    assert fake.jobs[rid].key_fingerprint == Secret(KEY).fingerprint


def test_cancel_answers_202_then_already_completed_and_404_for_unknown(fake, video_url):
    client = fal_client.SyncClient(key=KEY)
    handle = client.submit(MODEL_ID, {"prompt": "p", "video_url": video_url[0]})
    with http() as raw:
        first = raw.put(handle.cancel_url)
        assert first.status_code == 202 and first.json() == {"status": "CANCELLATION_REQUESTED"}
        status = raw.get(handle.status_url, params={"logs": "true"}).json()
        assert status["status"] == "COMPLETED" and status["error_type"] == "client_cancelled"
    with pytest.raises(FalClientHTTPError) as again:
        handle.cancel()
    assert again.value.status_code == 400 and "ALREADY_COMPLETED" in again.value.response.text
    with pytest.raises(FalClientHTTPError) as unknown:
        client.cancel(MODEL_ID, "no-such-request")
    assert unknown.value.status_code == 404
    assert handle.request_id in fake.cancels


def test_invalid_input_completes_with_an_error_and_a_422_detail_list(fake):
    with http() as client:
        body = client.post(f"{fake.url}/{MODEL_ID}", json={"video_url": "https://example.com/x.mp4"}).json()
        status = wait_done(client, body["status_url"])
        assert status["error_type"] == "validation_error"
        answer = client.get(body["response_url"])
    assert answer.status_code == 422
    locs = {tuple(d["loc"]): d["type"] for d in answer.json()["detail"]}
    assert locs == {("body", "prompt"): "missing", ("body", "video_url"): "file_download_error"}


def test_cdn_token_multipart_and_storage_fallback(fake):
    with http() as client:
        token = client.post(f"{fake.url}/storage/auth/token?storage_type=fal-cdn-v3", json={}).json()
        assert datetime.fromisoformat(token["expires_at"]).tzinfo is not None
        bearer = {"Authorization": f"{token['token_type']} {token['token']}"}
        created = httpx.post(f"{token['base_url']}/files/upload/multipart",
                             headers={**bearer, "X-Fal-File-Name": "big.bin"}).json()
        parts = []
        for n, chunk in enumerate((b"a" * 1000, b"b" * 500), start=1):
            put = httpx.put(f"{created['access_url']}/multipart/{created['uploadId']}/{n}", content=chunk,
                            headers=bearer)
            parts.append({"partNumber": n, "etag": put.headers["etag"]})
        done = httpx.post(f"{created['access_url']}/multipart/{created['uploadId']}/complete",
                          json={"parts": parts}, headers=bearer)
        assert done.status_code == 200
        assert httpx.get(created["access_url"]).content == b"a" * 1000 + b"b" * 500

        init = client.post(f"{fake.url}/storage/upload/initiate?storage_type=gcs",
                           json={"file_name": "x.txt", "content_type": "text/plain"}).json()
        assert httpx.put(init["upload_url"], content=b"hello").status_code == 200
        assert httpx.get(init["file_url"]).content == b"hello"
