"""Long clips and takes on the page, in Debian's chromium, against the fake fal on a server key.

A 14 s clip gets the offer beside trimming: its estimated segments on a timeline and the price,
and Generate only once the user chooses segments; the job cuts at the shot changes it finds, and the
joined result plays, until Fix it trims the clip and takes the result of the uncut clip away. Two
takes of a short clip appear side by side, and choosing the second moves the result to it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.e2e.browser import chromium_page, open_studio, wait_for_job
from tests.mediagen import make_clip, make_shots_clip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PROMPT = "#prompt-box textarea"
BOTH_VIDEOS_READY = ("() => [...document.querySelectorAll('#result-player .kcmp video')]"
                     ".filter(v => v.readyState >= 2).length === 2")


@pytest.fixture(scope="module")
def data(fal_app) -> Path:
    return fal_app[1].data_dir


@pytest.fixture(scope="module")
def page(fal_app):
    """A tab on the suite's shared app with a server key on the fake fal (tests/e2e/conftest.py)."""
    app = fal_app[1]
    with chromium_page() as page:
        page.set_default_timeout(60_000)
        open_studio(page, app.url)
        yield page


def _fresh(page, clip) -> None:
    page.reload()
    page.wait_for_selector("#generate")
    page.set_input_files("#input-video input[type=file]", str(clip))
    page.locator("#preflight .preflight").wait_for()
    page.locator(PROMPT).fill("Make it look like winter")


def _estimate(page) -> float:
    """The cost estimate shown beside the engine, in dollars."""
    found = re.search(r"Estimated cost on [^:]+: \$(\d+\.\d\d)", page.locator("#engine-status").inner_text())
    assert found, page.locator("#engine-status").inner_text()
    return float(found.group(1))


def test_a_long_clip_is_offered_in_segments_on_a_timeline_and_joined(page, tmp_path):
    clip = make_shots_clip(tmp_path / "long.mp4", shots=(3.5, 3.5, 3.5, 3.5), audio=True)
    _fresh(page, clip)
    page.wait_for_selector("#segment-timeline .segment-plan")
    # The offer is the estimate (no decoding before a job exists): 14 s in two segments of 7 s.
    assert page.locator("#segment-timeline .seg").count() == 2
    offer = page.locator("#use-segments").inner_text()
    assert "Edit all of it in segments (about 2, $" in offer, offer
    timeline = page.locator("#segment-timeline").inner_text()
    assert "moves the seams onto them" in timeline and "Total billed: 14" in timeline
    # Too long for one edit: Generate waits until the user picks segments (or trims with Fix it).
    page.wait_for_function("() => document.querySelector('#generate').disabled")
    assert page.locator("#fix-it-button").is_visible()
    page.locator("#use-segments input[type=checkbox]").check()
    page.wait_for_function("() => !document.querySelector('#generate').disabled")
    assert "$" in page.locator("#engine-status").inner_text()
    page.locator("#generate").click()
    # The job found the three shot changes: one segment per shot.
    page.wait_for_function("() => document.querySelector('#parts-summary')?.innerText.includes('4 segments')",
                           timeout=120_000)
    wait_for_job(page, timeout=120_000)
    page.wait_for_function(BOTH_VIDEOS_READY)
    # The panel says "Done" first; the whole view (the parts' summary too) follows it at once.
    page.wait_for_function("() => (document.querySelector('#parts-summary')?.innerText.match(/succeeded/g)"
                           " || []).length === 4")
    summary = page.locator("#parts-summary").inner_text()
    assert "4 segments" in summary and summary.count("succeeded") == 4
    durations = page.locator("#result-player .kcmp video").evaluate_all("vs => vs.map(v => v.duration)")
    assert abs(durations[0] - durations[1]) < 0.1 and durations[1] > 13.5
    # Trimmed with Fix it afterwards, the clip is no longer the one edited: its result leaves with it.
    page.locator("#fix-it-button").click()
    page.wait_for_function("() => document.querySelector('#fix-changes')?.innerText.includes('Fixed')")
    page.wait_for_function("() => document.querySelector('#result-player .kcmp').dataset.state === 'empty'")
    page.wait_for_function("() => document.querySelector('#job-progress')?.innerText"
                           ".includes('No edit of this clip yet')")


def test_two_takes_side_by_side_and_the_chosen_one_is_the_result(page, data, tmp_path):
    clip = make_clip(tmp_path / "short.mp4", seconds=3.2, width=1280, height=720, crf=40, audio=False)
    _fresh(page, clip)
    page.wait_for_function("() => document.querySelector('#engine-status').innerText.includes('Estimated')")
    one = _estimate(page)
    takes = page.locator("#takes input[type=number]")
    takes.fill("2")
    takes.press("Enter")
    page.wait_for_function("() => !document.querySelector('#engine-status').innerText"
                           f".includes(': ${one:.2f}')")
    assert _estimate(page) == pytest.approx(2 * one, abs=0.011)  # the price before the click: two runs
    page.wait_for_function("() => !document.querySelector('#generate').disabled")
    page.locator("#generate").click()
    page.wait_for_function("() => [...document.querySelectorAll('#takes-grid .take-cell')]"
                           ".filter(c => c.offsetParent !== null).length === 2")
    page.wait_for_function("() => [...document.querySelectorAll('#takes-grid .kcmp video')]"
                           ".filter(v => v.readyState >= 2).length === 4")
    # Once both are in, the first take that succeeded is the result until the user picks another.
    page.wait_for_function("() => document.querySelector('#parts-summary')?.innerText"
                           ".includes('Take 1 is the result')")
    assert page.locator("#choose-take-1").inner_text().strip() == "✓ Chosen"
    first = page.locator("#result-player .kcmp-v-edit").get_attribute("src")
    page.locator("#choose-take-2").click()
    page.wait_for_function("() => document.querySelector('#choose-take-2').innerText.includes('Chosen')")
    assert "Take 2 is the result" in page.locator("#parts-summary").inner_text()
    page.wait_for_function(f"() => document.querySelector('#result-player .kcmp-v-edit').src !== {first!r}")
    # The chosen take is what a share link shows (and the joined clip of a long clip, likewise).
    page.wait_for_function("() => !document.querySelector('#share-create').disabled")
    page.locator("#share-create").click()
    page.wait_for_function("() => document.querySelector('#share-link textarea, #share-link input')"
                           "?.value.includes('/share/')")
    link = page.locator("#share-link textarea, #share-link input").first.input_value()
    shared = httpx.get(link.rstrip("/") + "/edited.mp4", timeout=30, trust_env=False)
    assert shared.status_code == 200
    parent = page.locator("#result-details .result-details").get_attribute("data-job")
    assert shared.content == (data / "jobs" / parent / "chosen" / "take-2.mp4").read_bytes()
    # The details and the download name say take 2 as well, after a refresh too.
    assert "take 2 is chosen" in page.locator("#result-details").inner_text()
    assert page.locator("#result-player .kcmp-dl-edit[href*='take-2.mp4']").count() == 1
    page.reload()
    page.wait_for_function("() => document.querySelector('#result-details')?.innerText"
                           ".includes('take 2 is chosen')")
