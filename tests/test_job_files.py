"""An owner's job files are served only through links made for that owner, checked on every request,
wherever the data folder lives; nothing of it is served by path.

The issue's finding: with the data folder outside the working folder and the temp folder, ``<data>/jobs``
was one of gradio's allowed paths, and an anonymous ``/gradio_api/file=<data>/jobs/<id>/edited.mp4``
answered 200 (the input and the side-by-side too). Here the data folder is on /dev/shm: neither
the working folder nor the temp folder.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import app
from components.edit.request import EditRequest
from components.jobs.inputs import copy_inputs
from components.media.thumbnail import make_thumbnail
from components.share.files import FileLinks
from tests.inprocess import InProcess, call, running_studio
from tests.mediagen import make_clip

OWNER, STRANGER = uuid.uuid4().hex, uuid.uuid4().hex
SHM = Path("/dev/shm")


def test_a_link_opens_its_file_for_its_owner_until_it_expires(tmp_path):
    now = [1_000_000.0]
    links = FileLinks(tmp_path / "jobs", "secret", ttl_s=3600, clock=lambda: now[0])
    job = uuid.uuid4().hex
    (tmp_path / "jobs" / job / "inputs").mkdir(parents=True)
    clip = tmp_path / "jobs" / job / "inputs" / "my clip.mp4"
    clip.write_bytes(b"clip")
    (tmp_path / "jobs" / job / "edited.mp4").write_bytes(b"edit")
    url = links.url(OWNER, clip)
    assert re.fullmatch(rf"studio/files/{job}/\d+/[\w-]{{32}}/inputs/my%20clip.mp4", url)
    assert links.url(OWNER, clip) == url  # stable within the hour: a refreshed view plays on

    def find(link: str, owner: str = OWNER) -> Path | None:
        _, _, job_id, until, sig, rest = link.split("/", 5)
        return links.find(job_id, rest.replace("%20", " "), until, sig, owner)

    assert find(url) == clip.resolve()
    assert find(url, STRANGER) is None  # the job's owner is not the one it was made for
    assert find(url.replace("inputs/my%20clip.mp4", "edited.mp4")) is None  # another file
    assert find(url.replace("inputs/my%20clip.mp4", "inputs/../edited.mp4")) is None
    assert find(re.sub(r"/\d+/", "/9999999999/", url)) is None  # a longer life
    assert links.url(OWNER, tmp_path / "elsewhere.mp4") is None and links.url(OWNER, None) is None
    now[0] += 2 * 3600 + 1  # past the hour it was made in, and its hour of life
    assert find(url) is None


@pytest.fixture(scope="module")
def studio(tmp_path_factory) -> Iterator[tuple[InProcess, dict]]:
    """The studio with its data folder on /dev/shm (its scratch folder where it is by default, in
    the temp folder) and one finished job of OWNER's."""
    if not SHM.is_dir():
        pytest.skip("needs /dev/shm, a folder outside both the working folder and the temp folder")
    root = Path(tempfile.mkdtemp(dir=SHM, prefix="studio-"))
    try:
        clip = make_clip(root / "own" / "clip.mp4", seconds=3.2, audio=False)
        with running_studio(root, scratch_dir=tmp_path_factory.mktemp("scratch")) as running:
            store = running.studio.store
            job_id = uuid.uuid4().hex
            staged = copy_inputs(EditRequest("Make it black and white", clip),
                                 store.job_dir(job_id) / "inputs")
            store.create(OWNER, staged, "local", None, job_id=job_id)
            output = shutil.copyfile(clip, store.job_dir(job_id) / "edited.mp4")
            sbs = shutil.copyfile(clip, store.job_dir(job_id) / "side_by_side.mp4")
            make_thumbnail(output)
            store.update(job_id, status="succeeded", output_video=str(output), side_by_side=str(sbs),
                         finished_at=time.time())
            yield running, {"id": job_id, "files": [staged.video, output, sbs]}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _shown_urls(studio: InProcess) -> list[str]:
    """Every URL of the studio's file route that the owner's page is sent for its history and the
    result it restores, as gradio's queue hands them over."""
    session = uuid.uuid4().hex[:11]
    listed = call(studio.url, studio.fn_index("history")[0], [OWNER], session=session)
    shown = call(studio.url, studio.fn_index("restore")[0], [OWNER, None], session=session,
                 event_data={"index": [0, 0], "value": ""})
    assert listed["success"] and shown["success"]
    blob = json.dumps([listed["output"], shown["output"]]).replace("&amp;", "&")
    return sorted(set(re.findall(r'https?://[^"\s<>\\]+/studio/files/[^"\s<>\\]+', blob)))


def test_nothing_of_the_data_folder_is_served_by_path(studio):
    running, job = studio
    assert not any(Path(p).resolve().is_relative_to(running.settings.data_dir.resolve())
                   for p in app._allowed_paths())
    with httpx.Client(base_url=running.url, timeout=30, trust_env=False) as http:
        for path in job["files"]:
            answer = http.get(f"gradio_api/file={path}")
            assert answer.status_code == 403 and path.read_bytes() not in answer.content, path


def test_the_page_gets_signed_links_that_open_only_the_owners_files(studio):
    running, job = studio
    urls = _shown_urls(running)
    names = {u.rsplit("/", 1)[1] for u in urls}
    assert {"clip.mp4", "edited.mp4", "side_by_side.mp4", "edited.thumb.jpg"} <= names
    with httpx.Client(timeout=30, trust_env=False) as http:
        for url in urls:
            answer = http.get(url)  # no cookie, no session: the link is what is checked
            assert answer.status_code == 200, url
            assert answer.headers["cache-control"] == "private, no-store"
            assert answer.headers["referrer-policy"] == "no-referrer"
        ranged = http.get(next(u for u in urls if "edited.mp4" in u), headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and len(ranged.content) == 100  # the player seeks
        edited = next(u for u in urls if "/edited.mp4" in u)
        tampered = [edited.replace("edited.mp4", "side_by_side.mp4"),
                    edited.replace(job["id"], uuid.uuid4().hex),
                    re.sub(r"/[\w-]{32}/edited", "/" + "A" * 32 + "/edited", edited),
                    edited.replace("edited.mp4", "..%2f..%2fjobs.sqlite3"),
                    edited.replace("edited.mp4", "")]
        for url in tampered:
            answer = http.get(url)
            assert answer.status_code == 404 and b"expired" in answer.content, url


def test_a_link_dies_with_its_job(studio):
    running, job = studio
    url = next(u for u in _shown_urls(running) if "/side_by_side.mp4" in u)
    running.studio.store.delete(job["id"])  # its row gone (the files are still on disk)
    with httpx.Client(timeout=30, trust_env=False) as http:
        assert http.get(url).status_code == 404
