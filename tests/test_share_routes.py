"""The share routes and the HTTP guard's disk floor, in-process: each ASGI app is driven through
httpx's ASGI transport (no server, no gradio launch), as a browser or a script would call it."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from components.edit.request import EditRequest
from components.guard.http_guard import GuardMiddleware
from components.guard.write_allowance import WriteAllowance
from components.jobs.store import JobStore
from components.share.page import routes
from components.share.store import ShareStore
from components.ui.share_panel import player
from tests.mediagen import make_clip

OWNER = uuid.uuid4().hex
HOSTILE_PROMPT = 'Make it snow </script><script>alert(1)</script> & "quotes"'


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("share-routes") / "clip.mp4", seconds=3.2, width=1280,
                     height=720, fps=24, crf=40, audio=False)


@pytest.fixture
def shares(tmp_path) -> ShareStore:
    return ShareStore(JobStore(tmp_path / "jobs.sqlite3"))


def _finished(shares: ShareStore, clip: Path, prompt: str = HOSTILE_PROMPT) -> str:
    """A finished job laid out as the runner leaves one; returns its id."""
    job_id = uuid.uuid4().hex
    folder = shares.jobs.job_dir(job_id)
    (folder / "inputs").mkdir(parents=True)
    original = shutil.copyfile(clip, folder / "inputs" / "clip.mp4")
    shares.jobs.create(OWNER, EditRequest(prompt=prompt, video=original), "local", None, job_id=job_id)
    shares.jobs.update(job_id, status="succeeded", output_video=shutil.copyfile(clip, folder / "edited.mp4"))
    return job_id


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://studio")


def _get(app, path: str, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        async with _client(app) as http:
            return await http.get(path, **kwargs)
    return asyncio.run(go())


def test_a_link_serves_its_page_and_clips_and_every_other_token_the_same_404(shares, clip):
    app = Starlette(routes=routes(shares, player()))
    token = shares.create(_finished(shares, clip), OWNER)
    page = _get(app, f"/share/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "<script>alert(1)</script>" not in page.text and "&lt;/script&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    whole = _get(app, f"/share/{token}/edited.mp4")
    assert whole.status_code == 200 and whole.content == shares.resolve(token).edited.read_bytes()
    part = _get(app, f"/share/{token}/original.mp4", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    missing = [_get(app, path) for path in (f"/share/{'0' * len(token)}", f"/share/{token}/side.mp4",
                                            "/share/..%2F..%2Fjobs.sqlite3", f"/share/{token}x")]
    assert {r.status_code for r in missing} == {404}
    assert len({r.text for r in missing if r.headers.get("content-type", "").startswith("text/html")}) <= 1
    shares.revoke(token, OWNER)
    assert _get(app, f"/share/{token}").status_code == 404


def test_uploads_pause_while_the_disk_is_nearly_full_and_other_routes_go_on(tmp_path):
    async def ok(request):
        return PlainTextResponse("reached")

    inner = Starlette(routes=[Route("/gradio_api/upload", ok, methods=["POST"]),
                              Route("/gradio_api/info", ok, methods=["GET"])])
    free = shutil.disk_usage(tmp_path).free

    def guarded(floor: int):
        return GuardMiddleware(inner, allowance=WriteAllowance(10 ** 9, 1000), upload_dir=tmp_path,
                               min_free_bytes=floor, max_body_bytes=1 << 20,
                               client_address=lambda headers, peer: peer or "unknown")

    async def upload(app) -> httpx.Response:
        async with _client(app) as http:
            files = {"files": ("a.mp4", b"\0" * 1000, "video/mp4")}
            return await http.post("/gradio_api/upload", files=files)

    full = guarded(free * 2)  # a floor above what is free: the disk counts as nearly full
    refused = asyncio.run(upload(full))
    assert refused.status_code == 507 and "disk is nearly full" in refused.text
    assert _get(full, "/gradio_api/info").text == "reached"  # only writes pause
    assert asyncio.run(upload(guarded(0))).text == "reached"
