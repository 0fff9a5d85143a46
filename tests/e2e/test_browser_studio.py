"""The studio page in Debian's chromium: build an edit by hand, generate locally, see the result,
restore it from history, reattach after a refresh, cancel, and hit the reference limit.

One app process (shared, see conftest.py) and one browser page for the module (starting them
costs seconds). No test relies on what another left: each starts by making the state it needs
(``_ensure_...``), which costs nothing when the page is already there (as in file order, which
reads like a user's session) and builds it from scratch otherwise, so each test passes alone and
in any order. The example media
from assets/ make the screenshots meaningful. They land in tests/artifacts/; the README's
docs/screenshot.png comes from test_browser_demo.py (an example run).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from assets import make_examples as ex
from tests.e2e.browser import chromium_page, open_studio
from tests.mediagen import make_clip, make_image

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
PROMPT = "#prompt-box textarea"
STATUS = "#job-progress [data-status]"
THUMBS = ".reference-thumb img"
NEWEST_PROMPT_CELL = "#history-table [role=gridcell][data-row='0'][data-col='3']"


def _history_rows_at_least(page, n: int) -> None:
    cell = f"#history-table [role=gridcell][data-row='{n - 1}'][data-col='1']"
    page.wait_for_function(f"() => document.querySelector(\"{cell}\")?.innerText.trim().length > 0")


@pytest.fixture(scope="module")
def page(local_app):
    with chromium_page() as page:
        page.set_default_timeout(30_000)
        open_studio(page, local_app.url)
        yield page


def _thumbs(page) -> list[str]:
    """The reference cards' picture URLs, @Image1 first."""
    return page.locator(THUMBS).evaluate_all("imgs => imgs.map(i => i.src)")


def _status(page) -> str:
    return page.locator(STATUS).get_attribute("data-status") or ""


def _wait_status(page, status: str, timeout: float = 240_000) -> None:
    """A local edit takes seconds alone, minutes when other work keeps both cores busy."""
    page.wait_for_selector(f'#job-progress [data-status="{status}"]', timeout=timeout)


def _fresh_form(page) -> None:
    """Reload: an empty form (history and a running job come back, inputs do not)."""
    page.reload()
    page.wait_for_selector("#generate")


def _history_rows(page) -> list[str]:
    """The history table's status words, newest first (an empty history shows one blank row)."""
    texts = page.locator("#history-table [role=gridcell][data-col='1']").all_inner_texts()
    return [t.strip() for t in texts if t.strip()]


def _upload_until_seen(page, selector: str, file, seen_js: str, waits_ms=(3_000, 6_000, 12_000)) -> None:
    """Drop ``file`` on ``selector`` until the page shows ``seen_js``. gr.render redraws the element
    cards after each change; a drop that lands on the card being replaced is lost (a gradio
    limitation), and a user would drop the file again, so the test does too: soon at first, then
    waiting longer each time, as a busy machine may be slow to show even a drop that landed
    (dropping the same picture again then is harmless)."""
    for attempt, wait_ms in enumerate(waits_ms, start=1):
        page.locator(selector).set_input_files(str(file))
        try:
            page.wait_for_function(seen_js, timeout=wait_ms)
            return
        except PlaywrightTimeout:
            if attempt == len(waits_ms):
                raise


def _wait_generate_enabled(page) -> None:
    """Until Generate is enabled; if it stays disabled, the failure says what the page's checks
    said (the reason a user would read)."""
    try:
        page.wait_for_function("() => !document.querySelector('#generate').disabled")
    except PlaywrightTimeout:
        checks = page.locator("#prompt-checks").inner_text()
        counter = page.locator("#reference-counter").inner_text()
        preflight = page.locator("#preflight").inner_text()
        raise AssertionError(f"Generate stayed disabled. Checks: {checks!r}; {counter!r}; "
                             f"preflight: {preflight!r}") from None


def _build_edit(page) -> None:
    """By hand, from an empty form: the example clip, @Image1, @Element1 and a prompt that names
    both, put in with the label buttons at the cursor; ends with Generate enabled."""
    generate = page.locator("#generate")
    assert not generate.is_enabled()  # nothing to edit yet

    page.set_input_files("#input-video input[type=file]", str(ex.CLIP))
    preflight = page.locator("#preflight .preflight")
    preflight.wait_for()
    assert "5.0 s" in preflight.inner_text() and "1280×720" in preflight.inner_text()

    page.get_by_role("tab", name="Reference images").click()
    page.set_input_files("#add-images input[type=file]", str(ex.LANDSCAPE))
    page.locator(".label-button", has_text="@Image1").wait_for()

    page.get_by_role("tab", name="Elements").click()
    page.locator("#add-element").click()
    page.locator(".element-frontal input[type=file]").set_input_files(str(ex.FRONTAL))
    page.locator(".label-button", has_text="@Element1").wait_for()
    page.wait_for_function("() => document.querySelector('#reference-counter').innerText.includes('2/4')")
    # fal needs at least one other angle of an element: until it is there, the checks say so.
    page.wait_for_function("() => document.querySelector('#prompt-checks').innerText"
                           ".includes('0 reference images besides the frontal one')")
    _upload_until_seen(page, ".element-references input[type=file]", ex.SIDE,
                       "() => !document.querySelector('#prompt-checks').innerText"
                       ".includes('reference images besides the frontal one')")

    box = page.locator(PROMPT)
    box.fill("Make it look like , cold winter, in the colours of ")
    box.evaluate("t => t.setSelectionRange(18, 18)")  # the cursor right after "like "
    page.locator(".label-button", has_text="@Element1").click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value.includes('@Element1')")
    assert box.input_value() == "Make it look like @Element1, cold winter, in the colours of "
    # The page puts the cursor right after the inserted label; wait for that before moving it.
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').selectionStart === 27")
    box.evaluate("t => t.setSelectionRange(t.value.length, t.value.length)")
    page.locator(".label-button", has_text="@Image1").click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value.endsWith('@Image1')")
    assert box.input_value() == "Make it look like @Element1, cold winter, in the colours of @Image1"

    _wait_generate_enabled(page)
    assert "Local preview" in page.locator("#engine-status").inner_text()


def _generate(page) -> None:
    """Click Generate and wait for the new job to show: until then the panel may still show the
    state of the job restored from history or found after a reload."""
    page.locator("#generate").click()
    page.wait_for_selector('#job-progress [data-status="queued"], #job-progress [data-status="running"]')


def _generate_and_wait(page) -> None:
    rows = len(_history_rows(page))
    _generate(page)
    _wait_status(page, "succeeded")
    _history_rows_at_least(page, rows + 1)


def _built_form_is_there(page) -> bool:
    return page.evaluate(f"""() => document.querySelector('{PROMPT}').value.endsWith('@Image1')
        && document.querySelector('#reference-counter').innerText.includes('2/4')
        && !document.querySelector('#generate').disabled""")


def _ensure_built_form(page) -> None:
    """The form holds the hand-built edit (restored from history when there is one)."""
    if _built_form_is_there(page):
        return
    if _history_rows(page):  # every job of this module was made from the same inputs
        page.locator(NEWEST_PROMPT_CELL).click()
        _wait_generate_enabled(page)
        if _built_form_is_there(page):
            return
    _fresh_form(page)
    _build_edit(page)


def _ensure_done_edits(page, n: int) -> None:
    """At least ``n`` finished edits in this browser's history."""
    while sum(row.startswith("Done") for row in _history_rows(page)) < n:  # "Done · motion 0.97"
        _ensure_built_form(page)
        _generate_and_wait(page)


def test_build_an_edit_generate_and_see_both_videos(page):
    ARTIFACTS.mkdir(exist_ok=True)
    _fresh_form(page)
    _build_edit(page)
    page.screenshot(path=str(ARTIFACTS / "studio_before_edit.png"), full_page=True)

    rows = len(_history_rows(page))
    _generate(page)
    _wait_status(page, "succeeded")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.kcmp video')].filter(v => v.readyState >= 2).length === 2")
    # The panel says "Done" first; the whole view (both downloads, in the player's bar) follows it.
    page.wait_for_selector("#result-player .kcmp-dl-sbs[href*='side_by_side.mp4']")
    assert page.locator("#result-player .kcmp-dl-edit[href*='edited.mp4']").count() == 1
    page.locator("#copy-as-code").click()
    assert "fal_client.subscribe" in page.locator("#code-python").inner_text()
    _history_rows_at_least(page, rows + 1)
    page.screenshot(path=str(ARTIFACTS / "studio_after_edit.png"), full_page=True)


def test_picking_a_history_row_restores_its_inputs(page):
    _ensure_done_edits(page, 1)
    page.locator(PROMPT).fill("something else")
    page.locator(NEWEST_PROMPT_CELL).click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value.endsWith('@Image1')")
    page.wait_for_function("() => document.querySelector('#reference-counter').innerText.includes('2/4')")


def test_a_refreshed_tab_reattaches_to_the_running_job(page):
    _ensure_built_form(page)
    rows = len(_history_rows(page))
    _generate(page)
    page.reload()
    page.wait_for_selector(STATUS)  # the reloaded page found the job and watches it again
    _wait_status(page, "succeeded")
    _history_rows_at_least(page, rows + 1)


def test_two_results_from_history_play_in_the_comparison(page):
    _ensure_done_edits(page, 2)
    for dropdown, option in (("#compare-a", 0), ("#compare-b", 1)):
        page.locator(f"{dropdown} input").click()
        page.locator(f"{dropdown} [role=option]").nth(option).click()
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_function("() => document.querySelector('.kcmp-label-orig').textContent.startsWith('A: ')")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.kcmp video')].filter(v => v.readyState >= 2).length === 2")


def test_cancel_stops_the_edit(page):
    _ensure_done_edits(page, 1)
    page.locator(NEWEST_PROMPT_CELL).click()  # inputs back after reload
    page.wait_for_function("() => !document.querySelector('#generate').disabled")
    _generate(page)
    page.locator("#cancel").click()
    _wait_status(page, "cancelled")
    page.locator("#cancel").wait_for(state="hidden")  # the whole view follows the panel


def _add_three_images_and_move_the_first_right(page, folder: Path) -> None:
    """From the built form (@Image1 + @Element1): three more pictures, of which the third is one
    too many, then @Image1 moved one place right."""
    more = [make_image(folder / f"more{i}.png", width=320, height=320, color=(40 * i, 90, 60))
            for i in range(3)]
    page.get_by_role("tab", name="Reference images").click()
    page.set_input_files("#add-images input[type=file]", [str(p) for p in more])
    page.wait_for_function("() => document.querySelector('#reference-counter').innerText.includes('4/4')")
    page.wait_for_function("() => [...document.querySelectorAll('.toast-body')]"
                           ".some(t => t.innerText.includes('5 references'))")
    # Moving @Image1 one place right renumbers the prompt's label with it. The counter can change
    # before the cards are drawn: wait for the three pictures' cards.
    assert page.locator(PROMPT).input_value().endswith("@Image1")
    page.wait_for_function(f"() => document.querySelectorAll('{THUMBS}').length === 3")
    second = _thumbs(page)[1]
    page.locator(".ref-right").first.click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value.endsWith('@Image2')")
    # The cards are drawn again in the new order; a click meant for them waits until they are.
    page.wait_for_function(f"() => document.querySelector('{THUMBS}')?.src === '{second}'")


def test_a_fifth_reference_is_refused_with_the_limit(page, tmp_path):
    _ensure_built_form(page)
    _add_three_images_and_move_the_first_right(page, tmp_path)


def test_removing_attachments_renumbers_or_marks_their_labels(page, tmp_path):
    moved = page.evaluate(f"""() => document.querySelector('{PROMPT}').value.endsWith('@Image2')
        && document.querySelector('#reference-counter').innerText.includes('4/4')""")
    if not moved:  # the state the test above leaves
        _ensure_built_form(page)
        _add_three_images_and_move_the_first_right(page, tmp_path)
    page.get_by_role("tab", name="Reference images").click()
    # After the move above the prompt names the landscape as @Image2; removing @Image1 (another
    # picture) makes it @Image1 again, so the words keep pointing at the same picture.
    page.locator(".ref-remove").first.click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value.endsWith('@Image1')")
    page.wait_for_function("() => document.querySelector('#reference-counter').innerText.includes('3/4')")
    # Removing the element its label names leaves a marker, a warning, and a blocked Generate.
    page.get_by_role("tab", name="Elements").click()
    page.locator(".element-remove").first.click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value.includes('[removed element]')")
    page.wait_for_function("() => [...document.querySelectorAll('.toast-body')]"
                           ".some(t => t.innerText.includes('@Element1'))")
    page.wait_for_function("() => document.querySelector('#generate').disabled")
    assert "@Element1" not in page.locator(PROMPT).input_value()


def test_a_users_key_switches_to_fal_with_a_cost_and_never_reaches_the_page(page):
    if "5.0 s" not in page.locator("#preflight").inner_text():  # the cost is for the example's 5 s clip
        _fresh_form(page)
        page.set_input_files("#input-video input[type=file]", str(ex.CLIP))
        page.wait_for_function("() => document.querySelector('#preflight').innerText.includes('5.0 s')")
    key = "user-key-id:never-in-html-7f3a"
    page.locator("#fal-key input").fill(key)
    page.locator("#fal-key input").press("Enter")
    page.wait_for_function("() => document.querySelector('#engine-status').innerText.includes('via fal')")
    assert "$0.84" in page.locator("#engine-status").inner_text()  # 5.0 s × $0.168
    # The field is emptied as the key moves into the server's vault: it is in no value or HTML.
    page.wait_for_function("() => document.querySelector('#fal-key input').value === ''")
    # The tier radio re-prices the same clip: Kling O1 Standard at $0.126/s.
    page.locator("#model-tier").get_by_text("Kling O1 Standard").click()
    page.wait_for_function("() => document.querySelector('#engine-status').innerText.includes('$0.63')")
    assert "Kling O1 Standard" in page.locator("#engine-status").inner_text()
    assert "estimates" in page.locator("#engine-status").inner_text()
    page.locator("#model-tier").get_by_text("Kling O1 (").click()
    page.wait_for_function("() => document.querySelector('#engine-status').innerText.includes('$0.84')")
    assert key not in page.content()
    page.locator("#forget-key").click()
    page.wait_for_function(
        "() => document.querySelector('#engine-status').innerText.includes('Local preview')")


def test_a_malformed_key_is_refused_with_a_sentence(page):
    page.locator("#fal-key input").fill("not a key at all")
    page.locator("#fal-key input").press("Enter")
    page.wait_for_function("() => [...document.querySelectorAll('.toast-body')]"
                           ".some(t => t.innerText.includes('spaces, line breaks'))")
    assert "Local preview" in page.locator("#engine-status").inner_text()


def test_a_link_into_a_private_network_is_refused(page):
    page.locator("#video-url textarea, #video-url input").first.fill(page.url + "gradio_api/info")
    page.get_by_role("button", name="Fetch").click()
    page.wait_for_function("() => [...document.querySelectorAll('.toast-body')]"
                           ".some(t => t.innerText.includes('private network'))")


def test_fix_it_conforms_a_long_small_clip_and_replaces_the_input(page, tmp_path):
    clip = make_clip(tmp_path / "long_small.mp4", seconds=12, width=854, height=480, fps=4, audio=False)
    page.reload()  # a fresh, empty form (history and running jobs come back, inputs do not)
    page.wait_for_selector("#generate")
    page.set_input_files("#input-video input[type=file]", str(clip))
    page.wait_for_function("() => document.querySelector('#preflight').innerText.includes('12.0 s')")
    assert page.locator("#preflight .finding.error").count() >= 2  # too long and too small
    page.wait_for_function("() => document.querySelector('#generate').disabled")
    page.locator("#fix-it-button").click()
    page.wait_for_function("() => document.querySelector('#fix-changes').innerText.includes('Fixed')",
                           timeout=90_000)
    page.wait_for_function("() => document.querySelector('#preflight').innerText.includes('Within Kling O1')")
    assert "10.0 s" in page.locator("#preflight").inner_text()


def test_the_example_loads_a_complete_setup_in_one_click(page):
    page.reload()
    page.wait_for_selector("#generate")
    page.locator("#example-robot-swap").click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value.startsWith('Replace the')")
    page.wait_for_function("() => document.querySelector('#reference-counter').innerText.includes('2/4')")
    page.wait_for_function("() => document.querySelector('#preflight').innerText.includes('5.0 s')")
    assert page.locator(".label-button:visible").all_inner_texts() == ["@Image1", "@Element1"]
    page.wait_for_function("() => !document.querySelector('#generate').disabled")
