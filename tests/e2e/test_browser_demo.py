"""A demo that never dead-ends (issue 12), in Debian's chromium against the real app without a key:
every example makes a visible local edit in one click, the result plays before the side-by-side
exists, a double-click starts one job, garbage request ids and self-comparisons get a sentence,
the layout holds at 1440x900 and at 390 px, and the small fixes stay fixed.

One app process (shared, see conftest.py) and one page for the module; tests run in file order
like a user's session.
The figures (engine done -> player ready) land in tests/artifacts/result_first.json; the
robot-swap run's whole page is tests/artifacts/demo_after_example.png (the README's screenshot, its
first screen, comes from tests/e2e/test_browser_presenter.py).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from gradio_client import handle_file

from assets.make_examples import EXAMPLES
from components.media.probe import probe
from tests.e2e.app_server import api_client
from tests.e2e.browser import chromium_page, open_studio
from tests.mediagen import make_clip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
PROMPT = "#prompt-box textarea"
TOAST = ".toast-body"
FIGURES: dict[str, dict] = {}
JOB_CELLS = """[...document.querySelectorAll("#history-table [role=gridcell][data-col='5']")]"""

# Installed before Generate: when the player's edit video first has a frame, and when the job
# panel first says "succeeded" (the side-by-side is done then), in epoch ms like a file's mtime.
WATCH_READY = """() => {
  window.__demo = { ready: null, succeeded: null, held: false, clicks: 0, armed: false };
  if (window.__demoInstalled) return;  // the listeners below outlive one example
  window.__demoInstalled = true;
  const button = document.querySelector('#generate');
  new MutationObserver(() => { if (button.disabled) window.__demo.held = true; })
    .observe(button, { attributes: true, attributeFilter: ['disabled'] });
  const count = (e) => { if (button.contains(e.target)) window.__demo.clicks += 1; };
  window.addEventListener('click', count, true);
  const edit = document.querySelector('.kcmp-v-edit');
  edit.addEventListener('loadeddata', () => { if (window.__demo.armed) window.__demo.ready ??= Date.now(); });
  const panel = document.querySelector('#job-progress');
  const seen = () => {
    const status = panel.querySelector('[data-status]')?.dataset.status;
    if (status === 'queued' || status === 'running') window.__demo.armed = true;  // this example's job
    if (status === 'succeeded' && window.__demo.armed) window.__demo.succeeded ??= Date.now();
  };
  new MutationObserver(seen).observe(panel, { subtree: true, childList: true, attributes: true });
}"""

# Mean difference between the two videos' pictures at the current time, and how colourful the
# edit is (mean spread between its RGB channels): both drawn into one small canvas.
PICTURES = """() => {
  const canvas = document.createElement('canvas');
  canvas.width = 160; canvas.height = 90;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const read = (v) => { ctx.drawImage(v, 0, 0, 160, 90); return ctx.getImageData(0, 0, 160, 90).data; };
  const a = read(document.querySelector('.kcmp-v-orig')), b = read(document.querySelector('.kcmp-v-edit'));
  let diff = 0, spread = 0;
  for (let i = 0; i < a.length; i += 4) {
    diff += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
    spread += Math.max(b[i], b[i + 1], b[i + 2]) - Math.min(b[i], b[i + 1], b[i + 2]);
  }
  const n = a.length / 4;
  return { diff: diff / (3 * n), spread: spread / n };
}"""


@pytest.fixture(scope="module")
def page(local_app):
    with chromium_page(viewport={"width": 1440, "height": 900}) as page:
        page.set_default_timeout(30_000)
        open_studio(page, local_app.url)
        yield page
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "result_first.json").write_text(json.dumps(FIGURES, indent=2))


def history_rows(page) -> int:
    return page.evaluate(f"() => {JOB_CELLS}.filter(c => c.innerText.trim()).length")


def toast_with(page, text: str, timeout: float = 10_000) -> None:
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{TOAST}')].some(t => t.innerText.includes({text!r}))",
        timeout=timeout)


def close_toasts(page) -> None:
    page.evaluate("() => document.querySelectorAll('[data-testid=toast-close]').forEach(b => b.click())")


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_each_example_makes_a_visible_local_edit_in_one_click(page, local_app, example):
    page.locator(f"#example-{example.id}").click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value === {example.prompt!r}")
    used = len(example.images) + len(example.elements)
    counter = "document.querySelector('#reference-counter').innerText"
    page.wait_for_function(f"() => {counter}.includes('{used}/4')")
    page.wait_for_function("() => document.querySelector('#preflight').innerText.includes('Within Kling O1')")
    page.wait_for_function("() => !document.querySelector('#generate').disabled")
    assert example.beyond in page.locator("#examples").inner_text()
    rows = history_rows(page)

    page.evaluate(WATCH_READY)
    page.locator("#generate").dblclick()  # one intent, two clicks
    page.wait_for_function("() => window.__demo.ready && window.__demo.succeeded", timeout=180_000)
    page.wait_for_function("() => !document.querySelector('#generate').disabled")

    job_id = page.locator(".result-details").get_attribute("data-job")
    job_dir = local_app.data_dir / "jobs" / job_id
    edited_at = (job_dir / "edited.mp4").stat().st_mtime * 1000
    times = page.evaluate("() => window.__demo")
    assert times["held"] and times["clicks"] == 1, times  # off after the first click: the second never landed
    figures = {"engine_done_to_player_ready_ms": round(times["ready"] - edited_at),
               "player_ready_before_side_by_side_ms": round(times["succeeded"] - times["ready"])}
    FIGURES[example.id] = figures
    print(example.id, figures)
    # Result first: it played before the mp4 was made. (How soon is printed, not asserted: a speed
    # target belongs in a benchmark, and a busy box would make a clock here a coin toss.)
    assert times["ready"] < times["succeeded"], figures

    page.wait_for_function(f"() => {JOB_CELLS}.filter(c => c.innerText.trim()).length >= {rows + 1}")
    assert history_rows(page) == rows + 1  # the double-click started one job

    notes = page.locator(".result-notes").inner_text()
    assert "Applied:" in notes
    page.evaluate("() => { const e = document.querySelector('.kcmp-v-edit'); e.pause(); e.currentTime = 3; }")
    page.wait_for_function("""() => [...document.querySelectorAll('.kcmp video')]
        .every(v => !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - 3.0) < 0.1)""")
    pictures = page.evaluate(PICTURES)
    assert pictures["diff"] > 12, pictures  # a visible edit, not the clip handed back
    if example.id == "old-film":
        assert pictures["spread"] < 6, pictures  # black and white as asked, not sepia
        assert "read as a comparison" in notes
    if example.id == "robot-swap":
        assert "needs Kling O1" in notes  # what only Kling can do is listed, not refused
        assert not probe(job_dir / "side_by_side.mp4").has_audio  # keep-audio off: silent too
        assert all(in_view(page, s) for s in ("#generate", "#job-progress", ".kcmp-stage")), \
            "Generate, progress and result must share one 1440x900 screen"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo_after_example.png"), full_page=True)


def test_comparing_a_result_with_itself_is_refused_and_labels_end_on_a_word(page):
    close_toasts(page)
    for dropdown in ("#compare-a", "#compare-b"):
        page.locator(f"{dropdown} input").click()
        page.locator(f"{dropdown} [role=option]").nth(0).click()
    page.get_by_role("button", name="Compare", exact=True).click()
    toast_with(page, "same edit")
    close_toasts(page)
    page.locator("#compare-b input").click()
    page.locator("#compare-b [role=option]").nth(1).click()
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_function("() => document.querySelector('.kcmp-label-orig').textContent.startsWith('A: ')")
    for side in ("orig", "edit"):
        label = page.locator(f".kcmp-label-{side}").text_content()
        words = label[3:].rstrip("…").split()
        prompts = [e.prompt for e in EXAMPLES]
        assert any(p.split()[: len(words)] == words for p in prompts), label  # whole words only


def test_resume_answers_garbage_at_once(page):
    close_toasts(page)
    panel = page.locator("#job-progress .job-progress")
    status_before = panel.get_attribute("data-status")
    page.locator("#history-request-id textarea, #history-request-id input").first.fill("garbage!!")
    began = time.monotonic()
    page.get_by_role("button", name="Resume").click()
    toast_with(page, "is not a fal request id", timeout=5_000)
    assert time.monotonic() - began < 5
    assert panel.get_attribute("data-status") == status_before  # nothing "Running · Reattached"
    assert "Reattach" not in panel.inner_text()


def test_a_refused_link_keeps_the_loaded_clip(page):
    close_toasts(page)
    page.locator("#example-old-film").click()
    page.wait_for_selector("#input-video video")
    page.locator("#video-url textarea, #video-url input").first.fill("http://127.0.0.1:9/clip.mp4")
    page.get_by_role("button", name="Fetch").click()
    toast_with(page, "private network")
    assert page.locator("#input-video video").is_visible()
    page.wait_for_timeout(300)  # a failed event's status pill would be drawn by now
    assert page.locator("#input-video .error:visible").count() == 0  # no "Error" over the clip


def test_ids_are_unique(page):
    for element_id in ("attachments", "generate", "examples", "job-progress"):
        assert page.locator(f"[id='{element_id}']").count() == 1, element_id


def test_a_cut_end_says_so_and_the_note_leaves_with_the_clip(page, tmp_path):
    close_toasts(page)
    clip = make_clip(tmp_path / "long.mp4", seconds=12, width=1280, height=720, fps=4, audio=False)
    page.locator("#input-video button[aria-label=Clear]").click()
    page.set_input_files("#input-video input[type=file]", str(clip))
    page.wait_for_function("() => document.querySelector('#preflight').innerText.includes('12.0 s')")
    assert page.locator("[id='fix-it']").count() == 1  # shown now, and once
    end = page.locator("#fix-it input[type=number]").nth(1)
    end.fill("12")
    end.press("Tab")
    page.locator("#fix-it-button").click()
    page.wait_for_function("() => document.querySelector('#fix-changes').innerText.includes('Fixed')",
                           timeout=90_000)
    note = page.locator("#fix-changes").inner_text()
    assert "Cut:" in note and "12.0 s" in note and "10.0 s" in note
    page.locator("#input-video button[aria-label=Clear]").click()
    page.set_input_files("#input-video input[type=file]", str(EXAMPLES[0].clip))
    page.wait_for_function("() => document.querySelector('#preflight').innerText.includes('5.0 s')")
    page.wait_for_function("() => !document.querySelector('#fix-changes').innerText.includes('Fixed')")


def test_phone_width_is_usable_and_history_headers_stay_whole(page):
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.wait_for_function("() => document.documentElement.scrollWidth <= 392")
        headers = page.evaluate("""() => [...document.querySelectorAll('#history-table th .header')]
            .map(s => ({ text: s.innerText, clipped: s.scrollWidth > s.clientWidth + 1,
                         lines: Math.round(s.getBoundingClientRect().height
                                           / parseFloat(getComputedStyle(s).lineHeight)) }))""")
        assert headers and all(not h["clipped"] and h["lines"] <= 1 for h in headers), headers
        assert page.locator("#generate").is_visible()
        page.screenshot(path=str(ARTIFACTS / "demo_phone.png"), full_page=True)
    finally:
        page.set_viewport_size({"width": 1440, "height": 900})


def test_the_server_refuses_an_identical_api_submission_while_one_is_starting(local_app):
    client = api_client(local_app.url)
    example = EXAMPLES[0]
    outcomes: list = []

    def call() -> None:
        try:
            outcomes.append(client.predict(video=handle_file(str(example.clip)), prompt=example.prompt,
                                           images=[], elements=[], keep_audio=False, fal_key="",
                                           api_name="/edit"))
        except Exception as error:  # the refusal arrives as gradio_client's AppError
            outcomes.append(error)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert "already starting" in str(refused[0])
