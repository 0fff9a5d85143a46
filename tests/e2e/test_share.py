"""Share links over HTTP against the launched app: the page and its two clips for a live token, one
404 for every other, and nothing else of the owner's reachable from a link.

One app process for the module. The shared result A is a real local edit made through /edit;
the others are job rows written beside it (the runner's layout: input copy and output in the job
folder), shared with the store on the app's own SQLite file, as the studio's handlers do.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest
from gradio_client import handle_file

from components.edit.request import EditRequest
from components.jobs.store import JobStore
from components.share.store import ShareStore
from tests.e2e.app_server import api_client
from tests.mediagen import make_clip

pytestmark = pytest.mark.timeout(180)

HOSTILE_PROMPT = 'Make it snow </script><script>alert(1)</script> & "quotes" <b>bold</b>'
OTHER_OWNER = uuid.uuid4().hex


@pytest.fixture(scope="module")
def app(local_app):
    """The suite's shared local-preview app (tests/e2e/conftest.py)."""
    return local_app


@pytest.fixture(scope="module")
def shares(app) -> ShareStore:
    return ShareStore(JobStore(app.data_dir / "jobs.sqlite3"))


@pytest.fixture(scope="module")
def http(app):
    with httpx.Client(base_url=app.url, timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("share-media") / "clip.mp4", seconds=3.2, width=1280,
                     height=720, fps=24, crf=40)


@pytest.fixture(scope="module")
def edit(app, clip) -> dict:
    """A local edit through /edit: its details."""
    client = api_client(app.url)
    try:
        _, _, details = client.predict(handle_file(str(clip)), "Make it black and white", [], [], False, "",
                                       api_name="/edit")
    finally:
        client.close()
    return details


@pytest.fixture(scope="module")
def shared(shares, edit) -> dict:
    """Result A shared by its owner: the token and what the link must serve (its clips without
    their metadata, tests/test_share_store.py)."""
    job = shares.jobs.get(edit["job_id"])
    token = shares.create(job.id, job.owner)
    clips = shares.resolve(token)
    return {"token": token, "job": job, "original": clips.original.read_bytes(),
            "edited": clips.edited.read_bytes()}


def _result(shares: ShareStore, clip: Path, *, owner: str = OTHER_OWNER, prompt: str = "Make it snow") -> str:
    """Another owner's finished job, laid out as the runner leaves one; returns its id."""
    job_id = uuid.uuid4().hex
    folder = shares.jobs.job_dir(job_id)
    (folder / "inputs").mkdir(parents=True)
    original = shutil.copyfile(clip, folder / "inputs" / "clip.mp4")
    shares.jobs.create(owner, EditRequest(prompt=prompt, video=original), "local", None, job_id=job_id)
    shares.jobs.update(job_id, status="succeeded", output_video=shutil.copyfile(clip, folder / "edited.mp4"),
                       side_by_side=shutil.copyfile(clip, folder / "side_by_side.mp4"))
    return job_id


def _assert_private_headers(answer: httpx.Response) -> None:
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in answer.headers["x-robots-tag"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_the_page_holds_the_player_the_prompt_and_nothing_else_of_the_owner(app, http, shared, shares, clip):
    other = _result(shares, clip)
    other_token = shares.create(other, OTHER_OWNER)
    answer = http.get(f"/share/{shared['token']}")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    _assert_private_headers(answer)
    page = answer.text
    # The studio's player (its markup and script) and the link's own two clips, by relative URL.
    assert 'class="kcmp"' in page and "requestVideoFrameCallback" in page
    value = json.loads(re.search(r'<script type="application/json" id="share-value">(.*?)</script>',
                                 page, re.S).group(1))
    assert value["original"] == {"url": f"{shared['token']}/original.mp4", "orig_name": "original.mp4"}
    assert value["edited"] == {"url": f"{shared['token']}/edited.mp4", "orig_name": "edited.mp4"}
    assert value["side_by_side"] is None and value["fps"] == {"original": 24.0, "edited": 24.0}
    assert "Make it black and white" in page
    # Only the nonce'd script runs; the nonce is fresh on every answer.
    nonce = re.search(r"script-src 'nonce-([^']+)'", answer.headers["content-security-policy"]).group(1)
    assert page.count(f'<script nonce="{nonce}">') == 1
    assert nonce not in http.get(f"/share/{shared['token']}").headers["content-security-policy"]
    job = shared["job"]
    for secret in (job.id, job.owner, str(app.data_dir.resolve()), str(app.data_dir), "file=/", "/tmp/",
                   other, other_token, OTHER_OWNER, "Make it snow"):
        assert secret not in page, secret


def test_a_prompt_is_shown_as_text_never_as_markup(http, shares, clip):
    token = shares.create(_result(shares, clip, prompt=HOSTILE_PROMPT), OTHER_OWNER)
    page = http.get(f"/share/{token}").text
    assert "<script>alert(1)" not in page and "<b>bold</b>" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in page


@pytest.mark.parametrize("name", ["original", "edited"])
def test_both_clips_are_served_whole_and_by_range(http, shared, name):
    url = f"/share/{shared['token']}/{name}.mp4"
    whole = http.get(url)
    assert whole.status_code == 200 and whole.content == shared[name]
    assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
    _assert_private_headers(whole)
    assert "content-disposition" not in whole.headers  # no server file name
    part = http.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == shared[name][100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(shared[name])}"


def test_every_token_that_shows_nothing_gets_the_same_404(http, shared, shares, clip):
    revoked_job = _result(shares, clip)
    revoked = shares.create(revoked_job, OTHER_OWNER)
    assert http.get(f"/share/{revoked}").status_code == 200
    assert shares.revoke(revoked, OTHER_OWNER)
    expired_job = _result(shares, clip)
    expired = shares.create(expired_job, OTHER_OWNER)
    shutil.rmtree(shares.jobs.job_dir(expired_job))
    shares.jobs.update(expired_job, expired=True, expired_reason="removed")
    token = shared["token"]
    dead = [revoked, expired, secrets.token_urlsafe(32), shared["job"].id, revoked_job, token[:-1],
            token + "A", token.swapcase(), "x", "%00" + token[1:], "%2e%2e"]
    answers = [http.get(f"/share/{t}") for t in dead]
    answers += [http.get(f"/share/{t}/{name}.mp4") for t in dead for name in ("original", "edited")]
    answers += [http.get(f"/share/{token}/{name}.mp4") for name in ("side_by_side", "inputs", "clip", "x")]
    first = answers[0]
    assert first.status_code == 404 and "This link was revoked or never existed." in first.text
    _assert_private_headers(first)
    for answer in answers:
        assert (answer.status_code, answer.text) == (404, first.text), answer.url


def test_nothing_of_the_owner_is_reachable_around_a_link(app, http, shared):
    """Traversal, the job folder through gradio's file route, and neighbouring names: no file bytes."""
    token, job = shared["token"], shared["job"]
    folder = (app.data_dir / "jobs" / job.id).resolve()
    owned = [p for p in folder.rglob("*") if p.is_file()] + [app.data_dir / "jobs.sqlite3",
                                                            app.data_dir / "owner.secret"]
    routes = [f"/share/{token}/../../gradio_api/file={p}" for p in owned]
    routes += [f"/share/{token}/%2e%2e/%2e%2e/gradio_api/file={p}" for p in owned]
    routes += [f"/gradio_api/file={p}" for p in owned] + [f"/file={p}" for p in owned]
    routes += [f"/share/{token}/original.mp4/../../{job.id}", f"/share/{job.id}/edited.mp4",
               f"/share/{token}/{job.id}.mp4", f"/share/{token}/..%2fjobs.sqlite3.mp4",
               f"/share/{token}/%2e%2e%2f%2e%2e%2fjobs.sqlite3", f"/share?token={token}", "/share/",
               f"/gradio_api/file={folder}", f"/share/..%2f..%2f{job.id}", "/share/..%2f..%2fjobs.sqlite3"]
    contents = [p.read_bytes() for p in owned]
    for route in routes:
        answer = http.get(route)
        assert answer.status_code in (403, 404, 405), f"{route} answered {answer.status_code}"
        assert not any(c and c in answer.content for c in contents), route
    assert http.get("/").status_code == 200  # gradio's own page still answers beside the share routes


def _event(http: httpx.Client, elem_id: str, trigger: str = "click", prop: str = "elem_id") -> dict:
    """The backend event of the component whose ``prop`` is ``elem_id`` that updates most components
    (the history refresh button also refreshes the share list: its main event is the history one)."""
    config = http.get("/config").json()
    component = next(c["id"] for c in config["components"] if c.get("props", {}).get(prop) == elem_id)
    events = [d for d in config["dependencies"] if [component, trigger] in d["targets"] and d["backend_fn"]]
    return max(events, key=lambda d: len(d["outputs"]))


def _call(http: httpx.Client, event: dict, data: list, *, session: str | None = None,
          event_data: dict | None = None, headers: dict | None = None) -> dict:
    """One event through gradio's queue, as any script can send it: its completion message."""
    session = session or uuid.uuid4().hex[:11]
    body = {"data": data, "fn_index": event["id"], "session_hash": session, "event_data": event_data,
            "trigger_id": None}
    event_id = http.post("/gradio_api/queue/join", json=body, headers=headers).json()["event_id"]
    deadline = time.monotonic() + 60
    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            assert time.monotonic() < deadline, "the event never completed"
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                    return message
    raise AssertionError("the event stream ended first")


def test_a_page_owner_shares_from_history_and_the_link_names_the_public_host(http, shares, clip):
    """The studio's own events, in one session: list the history, pick the result, press Share
    link behind a proxy (as on a Space); the link is the proxy's https address."""
    owner = uuid.uuid4().hex
    job_id = _result(shares, clip, owner=owner, prompt="Make it look like winter")
    session = uuid.uuid4().hex[:11]
    history = _event(http, "↻ Refresh", prop="value")
    assert _call(http, history, [owner], session=session)["success"]
    picked = _call(http, _event(http, "history-table", "select"), [owner, None], session=session,
                   event_data={"index": [0, 3], "value": "Make it look like winter"})
    assert picked["success"]
    proxy = {"X-Forwarded-Host": "studio-demo.hf.space", "X-Forwarded-Proto": "https"}
    answer = _call(http, _event(http, "share-create"), [owner, None], session=session, headers=proxy)
    assert answer["success"], answer
    token = shares.token_for(job_id, owner)
    assert f"https://studio-demo.hf.space/share/{token}" in json.dumps(answer["output"]["data"])
    assert http.get(f"/share/{token}").status_code == 200


@pytest.mark.parametrize("elem_id", ["share-create", "share-revoke", "share-links-revoke"])
def test_the_studio_events_never_act_for_another_owner(http, shared, elem_id):
    """A script calls the page's share events with an owner id of its own (the shown-job slot is
    server-held, so it cannot name A's job) and A's token in every other slot."""
    token = shared["token"]
    event = _event(http, elem_id)
    message = _call(http, event, [uuid.uuid4().hex] + [token] * (len(event["inputs"]) - 1))
    assert message["success"] is False
    assert http.get(f"/share/{token}").status_code == 200  # still live
