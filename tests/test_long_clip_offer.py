"""A long clip's offer (edit it in segments) never waits behind someone's Fix it.

The offer used to find the shot changes in the page event, on one concurrency id with Fix it
(limit 1): a clip uploaded while any visitor's Fix it re-encoded had no offer, so Generate stayed
disabled, until that re-encode ended. Now the offer is the estimate (arithmetic) on a queue of its
own, and Fix it waits for the local CPU in the runner. Driven through gradio's queue on the real app.
"""

from __future__ import annotations

import threading
import uuid

import httpx

from components.config import MODEL_ID
from tests.inprocess import call, running_studio
from tests.mediagen import make_clip

FILE_META = {"_type": "gradio.FileData"}


def _upload(url: str, path) -> dict:
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as http, open(path, "rb") as f:
        answer = http.post("gradio_api/upload", files={"files": (path.name, f, "video/mp4")})
    answer.raise_for_status()
    return {"path": answer.json()[0], "orig_name": path.name, "meta": FILE_META}


def test_a_long_clip_gets_its_offer_while_another_visitors_fix_it_runs(tmp_path):
    # 4 fps is below the model's minimum: Fix it re-encodes (seconds of CPU), it cannot stream-copy.
    slow = make_clip(tmp_path / "slow.mp4", seconds=12, width=1280, height=720, fps=4, audio=False)
    long = make_clip(tmp_path / "long.mp4", seconds=14, width=1280, height=720, fps=24, audio=False, crf=40)
    with running_studio(tmp_path / "app") as studio:
        fix = studio.fn_index("on_fix")[0]
        pre_check, offer = sorted(studio.fn_index("on_clip"),
                                  key=lambda i: len(studio.studio.demo.fns[i].inputs))
        fixing: dict = {}
        fixer = threading.Thread(target=lambda: fixing.update(call(
            studio.url, fix, [uuid.uuid4().hex, _upload(studio.url, slow), 0.0, 10.05])))
        session = uuid.uuid4().hex[:11]
        clip = _upload(studio.url, long)
        checked = call(studio.url, pre_check, [clip], session=session)  # sets the clip's length
        fixer.start()
        while fixer.is_alive() and not any(studio.settings.scratch_dir.rglob("*.part.mp4")):
            fixer.join(0.05)  # until the other visitor's re-encode is writing its file
        offered = call(studio.url, offer, [clip, None, 0.0, MODEL_ID], session=session)
        offer_first = fixer.is_alive()
        fixer.join(120)
    assert checked["success"] and offered["success"], offered
    timeline = offered["output"]["data"][2]
    assert "segment-plan" in timeline and 'data-segments="2"' in timeline  # 14 s: about two segments
    assert fixing.get("success"), fixing  # the fix went through too
    assert offer_first, "the offer waited for the other visitor's Fix it"
