"""What a client can make the server write or hold through gradio's own routes, in process: the
studio's real app (app.create_app, launched as app.py launches it) driven through its ASGI app.

The issue's findings, each a test: 4,000 tiny uploads made 8,000 inodes for 0.66 MB of allowance;
``/gradio_api/process_recording`` took 3 x 7.2 MB right after ``/upload`` answered 429; a 100 MB
``queue/join`` body was read (and logged) in full; 50 addresses of one IPv6 /64 each got a fresh
allowance.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from components.config import MB
from components.guard.write_allowance import WriteAllowance
from tests.inprocess import InProcess, call, running_studio
from tests.mediagen import make_clip

OWNER = uuid.uuid4().hex  # the page's owner id (Fix it and Fetch take the caller's turn and share)
FILES_PER_HOUR = 500
MB_PER_HOUR = 5


@pytest.fixture(scope="module")
def studio(tmp_path_factory) -> Iterator[InProcess]:
    """The app with a 5 MB/h and 500 files/h allowance."""
    with running_studio(tmp_path_factory.mktemp("guard"), upload_mb_per_hour=MB_PER_HOUR,
                        upload_files_per_hour=FILES_PER_HOUR) as running:
        yield running


def _inodes(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*")) if folder.exists() else 0


def test_four_thousand_tiny_uploads_do_not_make_eight_thousand_inodes(studio):
    before = _inodes(studio.uploads)

    async def send() -> list[int]:
        async with studio.client("198.51.100.10") as http:
            statuses = []
            for batch in range(40):  # 40 requests of 100 one-byte files
                files = [("files", (f"t{batch}-{i}.txt", bytes([i]))) for i in range(100)]
                statuses.append((await http.post("/gradio_api/upload", files=files)).status_code)
            return statuses

    statuses = asyncio.run(send())
    made = _inodes(studio.uploads) - before
    print(f"\n4,000 one-byte uploads: {statuses.count(200)} requests stored, {made} inodes made")
    assert statuses.count(200) == FILES_PER_HOUR // 100 and set(statuses) == {200, 429}
    # Each stored upload is a folder and a file; the request the limit stopped mid-way may leave
    # its last part behind (counted in the allowance), nothing more.
    assert made <= 2 * FILES_PER_HOUR + 100


def test_every_upload_route_shares_one_allowance(studio):

    async def send() -> tuple[httpx.Response, list[httpx.Response]]:
        async with studio.client("198.51.100.20") as http:
            big = [("files", ("a.bin", b"\0" * (4 * MB)))]
            first = await http.post("/gradio_api/upload", files=big)
            assert first.status_code == 200
            recordings = [await http.post("/gradio_api/process_recording",
                                          files=[("video", ("r.mp4", b"\0" * (2 * MB)))])
                          for _ in range(3)]
            return first, recordings

    _, recordings = asyncio.run(send())
    assert [r.status_code for r in recordings] == [429, 429, 429]
    detail = recordings[0].json()["detail"]
    assert "past 5 MB written to this server in an hour" in detail and "Try again in" in detail


def test_addresses_of_one_ipv6_64_share_one_allowance(studio):

    async def send() -> list[int]:
        statuses = []
        for i in range(6):  # six addresses of one /64, 1 MB each, against 5 MB an hour
            async with studio.client(f"2001:db8:5:6::{i + 1:x}") as http:
                files = [("files", (f"v{i}.bin", b"\1" * MB))]
                statuses.append((await http.post("/gradio_api/upload", files=files)).status_code)
        return statuses

    assert asyncio.run(send()) == [200] * 4 + [429] * 2  # 4 MB fit; the 5th MB passes the cap mid-way


def test_a_body_over_the_cap_is_refused_before_it_is_read(studio):
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(100):  # 100 MB of "JSON"
            pulled += 1
            yield b"[" * MB

    async def send(chunked: bool) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if not chunked:
            headers["content-length"] = str(100 * MB)
        async with studio.client("198.51.100.30") as http:
            return await http.post("/gradio_api/queue/join", content=body(), headers=headers)

    declared = asyncio.run(send(chunked=False))
    assert declared.status_code == 413 and pulled == 0
    assert "is 100 MB; this server reads at most 1 MB per request (STUDIO_MAX_REQUEST_KB)" in \
        declared.json()["detail"]
    unsized = asyncio.run(send(chunked=True))
    assert unsized.status_code == 413 and pulled <= 2  # read up to the cap, then refused


def test_a_body_under_the_cap_reaches_gradio_whole(studio):

    async def send() -> httpx.Response:
        async with studio.client("198.51.100.40") as http:
            config = (await http.get("/config")).json()
            event = next(d for d in config["dependencies"]
                         if d.get("backend_fn") and d.get("queue") is not False)
            body = {"data": [None] * len(event["inputs"]), "fn_index": event["id"], "session_hash": "s" * 11,
                    "padding": "x" * (900 * 1024)}  # near the cap
            return await http.post("/gradio_api/queue/join", json=body)

    answer = asyncio.run(send())
    assert answer.status_code == 200 and "event_id" in answer.json()  # gradio read it whole


def test_the_allowance_rolls_over_the_hour():
    now = [0.0]
    allowance = WriteAllowance(10 * MB, 3, clock=lambda: now[0])
    allowance.charge("a", 6 * MB, 2)
    with pytest.raises(Exception, match=r"past 10 MB written .* \(6 MB so far\)"):
        allowance.charge("a", 6 * MB, 1, what="This edit's files")
    with pytest.raises(Exception, match=r"past 3 files stored .* \(2 so far\)"):
        allowance.charge("a", 0, 2)
    assert allowance.left("b").bytes == 10 * MB  # another address is not touched
    now[0] = 1800.0
    assert allowance.spend("a", 4 * MB, 1)
    assert not allowance.spend("a", 1, 0)
    now[0] = 3600.5  # the first hour's 6 MB and 2 files leave the window
    left = allowance.left("a")
    assert (left.bytes, left.files) == (6 * MB - 1, 2)
    now[0] = 9000.0
    assert allowance.left("a").bytes == 10 * MB and len(allowance._spent) == 0  # forgotten when empty


def test_a_fixed_clip_and_a_fetched_link_count_against_the_same_allowance(studio, tmp_path):
    """Every writer a client can ask for: "Fix it" writes a copy of the clip, a fetched link a file."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=3.2, width=1280, height=720, fps=24, audio=False)

    async def send(address: str, junk: int) -> dict:
        async with studio.client(address) as http:
            if junk:
                await http.post("/gradio_api/upload", files=[("files", ("junk.bin", b"\2" * junk))])
            with clip.open("rb") as f:
                uploaded = (await http.post("/gradio_api/upload", files=[("files", (clip.name, f))])).json()
        return {"path": uploaded[0], "orig_name": clip.name, "meta": {"_type": "gradio.FileData"}}

    fix = studio.fn_index("on_fix")[0]
    fetch = studio.fn_index("on_fetch")[0]
    fresh = "198.51.100.50"
    video = asyncio.run(send(fresh, 0))
    done = call(studio.url, fix, [OWNER, video, None, None], headers={"X-Forwarded-For": fresh})
    assert done["success"], done
    spent = "198.51.100.51"  # what its uploads wrote leaves less than the clip's size
    video = asyncio.run(send(spent, MB_PER_HOUR * MB - 2 * clip.stat().st_size))
    refused = call(studio.url, fix, [OWNER, video, None, None], headers={"X-Forwarded-For": spent})
    assert not refused["success"]
    assert "The fixed clip" in refused["title"] + refused["output"]["error"]
    assert "past 5 MB written to this server in an hour" in refused["output"]["error"]
    full = "198.51.100.52"

    async def spend_every_file() -> None:
        async with studio.client(full) as http:
            for batch in range(FILES_PER_HOUR // 100):
                empty = [("files", (f"{batch}-{i}", b"")) for i in range(100)]
                await http.post("/gradio_api/upload", files=empty)

    asyncio.run(spend_every_file())
    refused = call(studio.url, fetch, [OWNER, "https://example.com/clip.mp4"],
                   headers={"X-Forwarded-For": full})
    assert not refused["success"]  # refused before any lookup of the link's host
    assert refused["output"]["error"].startswith("This link's file would take your address past 500 files")


def test_a_refused_link_or_fix_says_why_and_writes_no_traceback(studio, capfd):
    """An empty link, an overlong one or "Fix it" without a clip is a user's slip: one sentence
    back, and nothing in the server's log (gradio prints a traceback for every error it is not told
    to keep quiet about, so each such click would otherwise grow the log by a screenful)."""
    fix, fetch = studio.fn_index("on_fix")[0], studio.fn_index("on_fetch")[0]
    capfd.readouterr()
    refused = [call(studio.url, fetch, [OWNER, " "]),
               call(studio.url, fetch, [OWNER, "https://example.com/" + "a" * 4096]),
               call(studio.url, fix, [OWNER, None, None, None])]
    assert all(not r["success"] and r["title"] == "Check the input" for r in refused), refused
    assert [r["output"]["error"] for r in refused] == [
        "There is no link to fetch. Paste a link to an .mp4 or .mov first.",
        "That link is longer than 4,096 characters. Paste a direct link to the file.",
        "There is no clip to fix. Add a clip first."]
    assert "Traceback" not in capfd.readouterr().err
