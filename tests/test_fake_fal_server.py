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
    with running_fake_fal(keys=(KEY, OTHER), queue_s=0.3, run_s=0.3, queue_positions=2) as server:
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


# ---------------------------------------------------------------------------- fal's input contract
# Each case: arguments that break one rule of fal's published schema, and the (loc, type) of the
# 422 item the fake must answer with, plus words of its message. Driven by the real fal_client:
# upload through the CDN protocol, submit, status ends COMPLETED with an error, result is a 422.
CONTRACT_CASES: list[tuple[str, dict, tuple, str, list[str]]] = [
    ("video at 23.976 fps", {"video_url": "f23976"}, ("video_url",), "video_validation_error", ["23.976"]),
    ("video at 15 fps", {"video_url": "f15"}, ("video_url",), "video_validation_error", ["FPS", "15.000"]),
    ("video at 120 fps", {"video_url": "f120"}, ("video_url",), "video_validation_error", ["120.000"]),
    ("variable rate averaging under 24", {"video_url": "vfr"}, ("video_url",), "video_validation_error",
     ["FPS"]),
    ("video of 10.2 s", {"video_url": "d102"}, ("video_url",), "video_validation_error", ["10.05", "10.20"]),
    ("video of 2 s", {"video_url": "short"}, ("video_url",), "video_validation_error", ["3.0", "2.00"]),
    ("video 480 px high", {"video_url": "low"}, ("video_url",), "video_validation_error", ["height", "480"]),
    ("video 2400 px wide", {"video_url": "wide"}, ("video_url",), "video_validation_error",
     ["width", "2400"]),
    ("video as .mkv", {"video_url": "mkv"}, ("video_url",), "video_validation_error", [".mkv"]),
    ("video not uploaded here", {"video_url": "https://example.com/x.mp4"}, ("video_url",),
     "file_download_error", []),
    ("element without references", {"elements": [{"frontal_image_url": "front", "reference_image_urls": []}]},
     ("elements", 0, "reference_image_urls"), "too_short", ["at least 1"]),
    ("element with the references left out", {"elements": [{"frontal_image_url": "front"}]},
     ("elements", 0, "reference_image_urls"), "missing", []),
    ("element with 5 angles",
     {"elements": [{"frontal_image_url": "front", "reference_image_urls": ["side"] * 5}]},
     ("elements", 0, "reference_image_urls"), "too_long", ["at most 4"]),
    ("frontal of aspect 0.3", {"elements": [{"frontal_image_url": "tall", "reference_image_urls": ["side"]}]},
     ("elements", 0, "frontal_image_url"), "image_validation_error", ["aspect ratio", "0.30"]),
    ("frontal of 200 px", {"elements": [{"frontal_image_url": "tiny", "reference_image_urls": ["side"]}]},
     ("elements", 0, "frontal_image_url"), "image_validation_error", ["300x300", "200x200"]),
    ("frontal over 10 MB", {"elements": [{"frontal_image_url": "heavy", "reference_image_urls": ["side"]}]},
     ("elements", 0, "frontal_image_url"), "image_validation_error", ["10.0MB"]),
    ("element without frontal", {"elements": [{"reference_image_urls": ["side"]}]},
     ("elements", 0, "frontal_image_url"), "missing", []),
    ("5 attachments", {"image_urls": ["side"] * 3,
                       "elements": [{"frontal_image_url": "front", "reference_image_urls": ["side"]}] * 2},
     ("elements",), "value_error", ["At most 4"]),
    ("keep_audio not a boolean", {"keep_audio": "yes"}, ("keep_audio",), "bool_type", []),
    ("no prompt", {"prompt": None}, ("prompt",), "missing", []),
]


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    """A fake without queue delays and the contract's media uploaded to it once."""
    from tests.mediagen import make_clip, make_image

    d = tmp_path_factory.mktemp("contract")
    flat = {"source": "color", "audio": False, "crf": 45}
    heavy = make_image(d / "heavy.png", width=400, height=400)
    with heavy.open("ab") as fh:
        fh.write(b"\0" * (10 * 1024 * 1024))
    files = {
        "ok": make_clip(d / "ok.mp4", seconds=3.2, fps=24, **flat),
        "d1004": make_clip(d / "d1004.mp4", seconds=10.04, fps=25, **flat),
        "f23976": make_clip(d / "film.mp4", seconds=3.5, fps="24000/1001", **flat),
        "f15": make_clip(d / "screen.mp4", seconds=3.5, fps=15, **flat),
        "f120": make_clip(d / "slowmo.mp4", seconds=3.5, fps=120, **flat),
        "vfr": make_clip(d / "capture.mp4", seconds=3.5, fps=30, vfr=True, audio=False, crf=45),
        "d102": make_clip(d / "d102.mp4", seconds=10.2, fps=25, **flat),
        "short": make_clip(d / "short.mp4", seconds=2, fps=25, **flat),
        "low": make_clip(d / "low.mp4", seconds=3.2, width=1280, height=480, fps=25, **flat),
        "wide": make_clip(d / "wide.mp4", seconds=3.2, width=2400, height=720, fps=25, **flat),
        "mkv": make_clip(d / "clip.mkv", seconds=3.2, fps=25, **flat),
        "front": make_image(d / "front.png", width=320, height=320),
        "side": make_image(d / "side.png", width=320, height=400, color=(10, 90, 30)),
        "tall": make_image(d / "tall.png", width=300, height=1000),
        "tiny": make_image(d / "tiny.png", width=200, height=200),
        "heavy": heavy,
    }
    with running_fake_fal(keys=(KEY,)) as server:
        client = fal_client.SyncClient(key=KEY)
        yield server, client, {name: client.upload_file(path) for name, path in files.items()}


def _resolve(value, urls: dict[str, str]):
    """Names of uploaded files in a case's arguments -> their URLs at the fake."""
    if isinstance(value, str):
        return urls.get(value, value)
    if isinstance(value, list):
        return [_resolve(v, urls) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, urls) for k, v in value.items()}
    return value


@pytest.mark.parametrize("name, change, loc, kind, words", CONTRACT_CASES, ids=[c[0] for c in CONTRACT_CASES])
def test_the_fake_refuses_each_violation_of_fals_schema_like_fal(contract, name, change, loc, kind, words):
    _, client, urls = contract
    arguments = {"prompt": "Make it snow", "video_url": urls["ok"], **_resolve(change, urls)}
    arguments = {k: v for k, v in arguments.items() if v is not None}
    handle = client.submit(MODEL_ID, arguments)
    status = None
    for _ in range(400):  # polled, as fal_client's own subscribe does
        status = handle.status()
        if isinstance(status, Completed):
            break
        time.sleep(0.02)
    assert isinstance(status, Completed) and status.error_type == "validation_error"
    with pytest.raises(FalClientHTTPError) as refused:
        handle.get()
    assert refused.value.status_code == 422
    detail = refused.value.response.json()["detail"]
    hits = [d for d in detail if tuple(d["loc"]) == ("body", *loc)]
    assert hits and hits[0]["type"] == kind, f"{name}: {detail}"
    for word in words:
        assert word in hits[0]["msg"], f"{name}: {word!r} not in {hits[0]['msg']!r}"


@pytest.mark.parametrize("endpoint", ["fal-ai/kling-video/o1/video-to-video/edit",
                                      "fal-ai/kling-video/o1/standard/video-to-video/edit"])
def test_both_tiers_accept_a_valid_edit_at_the_limits(contract, endpoint):
    """10.04 s, a 0.8-aspect side view, 4 angles, 4 attachments: everything at the edge passes."""
    fake, client, urls = contract
    before = fake.submits_by_endpoint.get(endpoint, 0)
    result = client.subscribe(endpoint, {
        "prompt": "Replace him with @Element1 in the light of @Image1", "video_url": urls["d1004"],
        "keep_audio": False, "image_urls": [urls["side"]] * 3,
        "elements": [{"frontal_image_url": urls["front"], "reference_image_urls": [urls["side"]] * 4}]})
    assert result["video"]["url"].startswith(fake.url)
    assert fake.submits_by_endpoint[endpoint] == before + 1


def test_an_unknown_endpoint_is_not_found(contract):
    _, client, urls = contract
    with pytest.raises(FalClientHTTPError) as missing:
        client.submit("fal-ai/kling-video/o9/video-to-video/edit", {"prompt": "p", "video_url": urls["ok"]})
    assert missing.value.status_code == 404
