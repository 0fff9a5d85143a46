"""A stakeholder demo without a stumble (issue 24), in Debian's chromium against the real app without
a key: what a presenter sees first at 1440x900, what the page says about the free local preview, what
a local edit is said to be, the result that leaves with its clip (after a long clip's segments too:
tests/e2e/test_browser_parts.py), Fix it keeping exactly the range typed, labels a viewer can read,
and the phone width.

One app process (shared, see conftest.py) and one page for the module; tests run in file order like
a presenter's session, and each makes the state it needs when it is not there yet. The first view is
saved to tests/artifacts/first_view.png (docs/screenshot.png, the README's, is a copy of
tests/artifacts/presenter_after_example.png, copied by hand so a test run leaves the work tree clean).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from assets.make_examples import EXAMPLES
from tests.e2e.browser import chromium_page, open_studio, wait_for_job
from tests.mediagen import make_clip, make_shots_clip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
PROMPT = "#prompt-box textarea"
CLIP = EXAMPLES[0].clip  # 5.0 s, 1280x720, 24 fps, with sound
SWAP = next(e for e in EXAMPLES if e.id == "robot-swap")
FILM = next(e for e in EXAMPLES if e.id == "old-film")
SCREEN = {"width": 1440, "height": 900}


@pytest.fixture(scope="module")
def page(local_app):
    with chromium_page(viewport=SCREEN) as page:
        page.set_default_timeout(30_000)
        open_studio(page, local_app.url)
        yield page


def _fresh(page) -> None:
    """A new, empty form at the top of the page (history and running jobs come back, inputs do not)."""
    page.reload()
    page.wait_for_selector("#generate")


def _text(page, selector: str) -> str:
    return page.locator(selector).first.inner_text()


def _wait_text(page, selector: str, needle: str, timeout: float = 30_000) -> None:
    page.wait_for_function(f"() => document.querySelector({selector!r})?.innerText.includes({needle!r})",
                           timeout=timeout)


def _run_example(page, example) -> None:
    """One click on ``example``, Generate, and wait until its result's whole view is on the page."""
    page.locator(f"#example-{example.id}").click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value === {example.prompt!r}")
    page.wait_for_function("() => !document.querySelector('#generate').disabled")
    page.locator("#generate").click()
    page.wait_for_selector('#job-progress [data-status="running"], #job-progress [data-status="queued"]')
    wait_for_job(page, timeout=180_000)
    # The panel says "Done" first; the whole view (the details of the finished job) follows it.
    _wait_text(page, "#result-details", "succeeded")
    page.wait_for_function("() => document.querySelector('#result-player .kcmp').dataset.state === 'ready'")


def test_the_first_view_holds_clip_instruction_generate_and_where_the_result_appears(page):
    _fresh(page)
    page.wait_for_function("() => document.querySelector('#generate-why')?.innerText.includes('Add a clip')")
    for selector in ("#input-video", PROMPT, "#generate", "#engine-status", "#generate-why",
                     "#result-player .kcmp-empty"):
        box = page.locator(selector).first.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= SCREEN["height"], (selector, box)
    assert page.evaluate("() => window.scrollY") == 0
    assert "Local preview, free" in _text(page, "#engine-status")  # beside Generate, not 1,400 px below
    # The player's own bar holds the downloads: no empty file boxes repeat them under it.
    assert page.locator("#download-edited, #download-sbs").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "first_view.png"))


def test_a_dropped_clip_is_not_met_with_a_red_empty_prompt(page):
    _fresh(page)
    page.set_input_files("#input-video input[type=file]", str(CLIP))
    _wait_text(page, "#generate-why", "Write the instruction")  # the reason Generate waits, in words
    assert "5.0 s" in _text(page, "#preflight")
    assert page.locator("#prompt-checks .finding.error").count() == 0
    # Once the box was visited and left empty, the finding is the user's to see.
    page.locator(PROMPT).click()
    page.locator(PROMPT).press("Tab")
    _wait_text(page, "#prompt-checks", "The prompt is empty")


def test_without_a_key_prices_are_only_what_kling_o1_would_cost_with_one(page, tmp_path):
    if "5.0 s" not in _text(page, "#preflight"):
        _fresh(page)
        page.set_input_files("#input-video input[type=file]", str(CLIP))
    _wait_text(page, "#engine-status", "this 5.0 s edit would cost")
    engine = _text(page, "#engine-status")
    assert "Local preview, free" in engine and "With a fal key" in engine and "Estimated" not in engine
    assert "once a fal key" in _text(page, "#model-tier")
    assert "hue wheel" in _text(page, "#takes")  # a local take is a recoloured copy, said before it runs
    # The long-clip offer: free here, Kling O1's price only as what a key would bill.
    long = make_shots_clip(tmp_path / "long.mp4", shots=(3.5, 3.5, 3.5, 3.5), audio=False)
    page.locator("#input-video button[aria-label=Clear]").click()
    page.set_input_files("#input-video input[type=file]", str(long))
    page.wait_for_selector("#segment-timeline .segment-plan")
    offer = _text(page, "#use-segments")
    assert re.search(r"free here; \$\d+\.\d\d on Kling O1 with a fal key", offer), offer
    assert "edited free here; with a fal key it would bill about $" in _text(page, "#segment-timeline")


def test_a_local_edit_is_described_as_what_it_is(page, local_app):
    _fresh(page)
    _run_example(page, SWAP)
    # Only the phases the local preview has, and one way of saying how long it took.
    phases = page.locator("#job-progress .job-phases li").all_inner_texts()
    assert phases == ["prepare", "render", "done"], (phases, _text(page, "#job-progress"))
    panel = _text(page, "#job-progress")
    assert "in all" in panel and "Done in" not in panel
    details = _text(page, "#result-details")
    assert "local preview (free" in details and "chosen:" not in details and "Model" not in details
    assert "side-by-side mp4" in details and "side_by_side" not in details
    assert "“keeping its stride”: kept" in details and "left out" not in details
    # Keep-audio is off: the edit has no sound track, and its button says so instead of "sound".
    page.wait_for_function("() => document.querySelector('#result-player .kcmp-mute[data-side=\"edit\"]')"
                           ".textContent === 'Edited: no sound track'")
    assert page.locator("#result-player .kcmp-mute[data-side='edit']").is_disabled()
    assert page.locator("#result-player .kcmp-mute[data-side='orig']").inner_text() == "Original: muted"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "presenter_after_example.png"))
    # The share page says who made the edit.
    page.wait_for_function("() => !document.querySelector('#share-create').disabled")
    page.locator("#share-create").click()
    page.wait_for_function("() => document.querySelector('#share-link textarea, #share-link input')"
                           "?.value.includes('/share/')")
    link = page.locator("#share-link textarea, #share-link input").first.input_value()
    shared = httpx.get(link, timeout=30, trust_env=False).text
    assert "Edited by the studio&#x27;s local preview, not by Kling O1" in shared


def test_a_new_clip_takes_the_previous_result_away(page):
    if page.locator("#result-player .kcmp").get_attribute("data-state") != "ready":
        _fresh(page)
        _run_example(page, SWAP)
    page.locator(f"#example-{FILM.id}").click()
    page.wait_for_function("() => document.querySelector('#result-player .kcmp').dataset.state === 'empty'")
    _wait_text(page, "#job-progress", "No edit of this clip yet")
    assert _text(page, "#result-details").strip() == ""
    # The link row follows the result shown: no active link is offered for a result that left.
    page.wait_for_function("() => document.querySelector('#share-create').disabled && document.querySelector("
                           "'#share-link textarea, #share-link input').value === ''")


def test_fix_it_keeps_exactly_the_range_typed(page, tmp_path):
    """A 32 s phone-like clip (a keyframe a second): 12.4-19.6 s comes back as exactly those frames,
    not the keyframe span around them, and plays across the join."""
    clip = make_clip(tmp_path / "phone.mp4", seconds=32, width=1280, height=720, fps=25, gop=25, crf=35)
    _fresh(page)
    page.set_input_files("#input-video input[type=file]", str(clip))
    _wait_text(page, "#preflight", "32.0 s")
    start, end = (page.locator("#fix-it input[type=number]").nth(i) for i in (0, 1))
    assert start.input_value() == "" and end.input_value() == ""  # nothing typed reads as typed
    start.fill("12.4")
    end.fill("19.6")
    end.press("Tab")
    page.locator("#fix-it-button").click()
    _wait_text(page, "#fix-changes", "Fixed", timeout=90_000)
    note = _text(page, "#fix-changes")
    assert "exactly 12.40-19.60 s of the original (frames 310-489)" in note and "smart cut" in note, note
    assert "Cut:" not in note
    _wait_text(page, "#preflight", "7.2 s")
    # The browser plays the joined clip: a frame before the first keyframe and one after it.
    for at in (0.2, 5.0):
        page.locator("#input-video video").evaluate(f"v => {{ v.currentTime = {at}; }}")
        page.wait_for_function(f"""() => {{ const v = document.querySelector('#input-video video');
            return v && !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - {at}) < 0.05
                && !v.error && Math.abs(v.duration - 7.2) < 0.05; }}""")
    # Left empty, the fields cut the longest clip from the start, and no note blames the user.
    page.locator("#input-video button[aria-label=Clear]").click()
    page.set_input_files("#input-video input[type=file]", str(clip))
    _wait_text(page, "#preflight", "32.0 s")
    page.locator("#fix-it-button").click()
    _wait_text(page, "#fix-changes", "Fixed", timeout=90_000)
    note = _text(page, "#fix-changes")
    assert "exactly 0.00-10.00 s" in note and "you chose" not in note and "Cut:" not in note, note


def test_takes_sit_in_an_even_grid_and_local_takes_are_called_copies(page, tmp_path):
    clip = make_clip(tmp_path / "short.mp4", seconds=3.2, width=720, height=720, fps=24, crf=40, audio=False)
    _fresh(page)
    page.set_input_files("#input-video input[type=file]", str(clip))
    page.locator(PROMPT).fill("Make it black and white")
    takes = page.locator("#takes input[type=number]")
    takes.fill("3")
    takes.press("Enter")
    page.wait_for_function("() => !document.querySelector('#generate').disabled")
    page.locator("#generate").click()
    page.wait_for_function("() => [...document.querySelectorAll('#takes-grid .kcmp')]"
                           ".filter(p => p.dataset.state === 'ready').length === 3", timeout=180_000)
    boxes = page.locator("#takes-grid .take-cell").evaluate_all(
        "cells => cells.filter(c => c.offsetParent !== null).map(c => c.getBoundingClientRect().width)")
    assert len(boxes) == 3 and max(boxes) - min(boxes) < 2, boxes  # take 3 as wide as takes 1 and 2
    assert "turned round the hue wheel" in _text(page, "#parts-summary")


def test_compare_pickers_and_sound_buttons_read_as_words(page):
    # The edits of the tests before (an example, three takes) are in the history, the takes
    # perhaps still finishing: compared once both are done ("Done · motion 0.99").
    cells = "#history-table [role=gridcell][data-col='1']"
    if page.locator(cells).count() < 2:
        _run_example(page, FILM)
        _run_example(page, SWAP)
    page.wait_for_function(f"() => [...document.querySelectorAll({cells!r})]"
                           ".filter(c => c.innerText.trim().startsWith('Done')).length >= 2",
                           timeout=180_000)
    page.locator("#compare-a input").click()
    options = page.locator("#compare-a [role=option]").all_inner_texts()
    assert len(set(options)) == len(options) >= 2 and all(o.startswith("#") for o in options), options
    page.locator("#compare-a [role=option]").nth(0).click()
    page.locator("#compare-b input").click()
    page.locator("#compare-b [role=option]").nth(1).click()
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_function("() => document.querySelector('.kcmp-label-orig').textContent.startsWith('A: ')")
    # Each button names its side by its letter, not by the whole prompt again.
    page.wait_for_function("() => [...document.querySelectorAll('#result-player .kcmp-mute')]"
                           ".every(b => /^[AB]: /.test(b.textContent))")
    sounds = page.locator("#result-player .kcmp-mute").all_inner_texts()
    assert [s.split(": ")[0] for s in sounds] == ["A", "B"], sounds
    assert all(s.split(": ", 1)[1] in ("muted", "sound", "no sound track") for s in sounds), sounds


def test_labels_and_toolbars_keep_clear_of_pictures(page):
    _fresh(page)
    # The history gallery has no label badge over its first thumbnail.
    assert page.locator("#history-gallery [data-testid=block-label]").count() == 0
    # An element card has no image toolbars crowding its labels.
    page.get_by_role("tab", name="Elements").click()
    page.locator("#add-element").click()
    page.locator(".element-frontal input[type=file]").set_input_files(str(SWAP.elements[0][0]))
    page.wait_for_selector(".element-frontal img")
    assert page.locator(".element-card button[aria-label=Download], .element-card button[aria-label=Share]"
                        ).count() == 0


def test_phone_width_has_no_sideways_scroll(page):
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.wait_for_function("() => document.documentElement.scrollWidth <= 390")
        # The history table fits instead of scrolling sideways.
        sideways = page.locator("#history-table .virtual-table-viewport").evaluate(
            "v => v.scrollWidth - v.clientWidth")
        assert sideways <= 1, sideways
        # The key field's placeholder is read whole.
        fits = page.evaluate("""() => { const box = document.querySelector('#fal-key input');
            const style = getComputedStyle(box), pen = document.createElement('canvas').getContext('2d');
            pen.font = style.font;
            return pen.measureText(box.placeholder).width
                <= box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight); }""")
        assert fits
        page.screenshot(path=str(ARTIFACTS / "presenter_phone.png"), full_page=True)
    finally:
        page.set_viewport_size(SCREEN)
