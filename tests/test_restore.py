"""A history pick gives the page back an edit's inputs: one copy per content, however often.

The issue's finding: thirty restores added 62 MB in 0.9 s (a copy of the job's inputs per pick,
kept for hours). Driven through gradio's queue on the studio's real app, as the page calls it.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from components.edit.request import EditRequest
from components.jobs.inputs import copy_inputs
from tests.inprocess import call, running_studio
from tests.mediagen import make_clip, make_image

OWNER = uuid.uuid4().hex


def _disk(*roots: Path) -> tuple[int, int]:
    """(inodes, bytes of distinct files) under ``roots``: a hard link costs an inode, not bytes."""
    inodes, seen, size = 0, set(), 0
    for root in roots:
        for path in root.rglob("*"):
            inodes += 1
            st = os.stat(path)
            if path.is_file() and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                size += st.st_size
    return inodes, size


def test_thirty_restores_write_one_copy(tmp_path):
    clip = make_clip(tmp_path / "own" / "clip.mp4", seconds=3.2, audio=False)
    image = make_image(tmp_path / "own" / "ref.png")
    with running_studio(tmp_path / "app") as studio:
        store = studio.studio.store
        job_id = uuid.uuid4().hex
        staged = copy_inputs(EditRequest("Make it black and white", clip, images=(image,)),
                             store.job_dir(job_id) / "inputs")
        store.create(OWNER, staged, "local", None, job_id=job_id)
        store.update(job_id, status="succeeded", output_video=str(staged.video), finished_at=time.time())
        session = uuid.uuid4().hex[:11]
        listed = call(studio.url, studio.fn_index("history")[0], [OWNER], session=session)
        assert listed["success"]
        pick = studio.fn_index("restore")[0]  # the history table's select

        def restore() -> dict:
            done = call(studio.url, pick, [OWNER, None], session=session,
                        event_data={"index": [0, 0], "value": ""})
            assert done["success"], done
            return done["output"]["data"]

        folders = (studio.settings.scratch_dir, studio.uploads)
        first = restore()
        after_first = _disk(*folders)
        again = [restore() for _ in range(30)]
        inodes, size = _disk(*folders)
    print(f"\n30 more restores: {inodes - after_first[0]} inodes, {size - after_first[1]} bytes")
    assert (inodes, size) == after_first
    assert first[1] == "Make it black and white" and all(data[0] == first[0] for data in again)
    kept = sorted(p.name for p in studio.settings.scratch_dir.rglob("*") if p.is_file())
    assert kept == ["clip.mp4", "ref.png"]  # the inputs, once each, as the page's attachments
