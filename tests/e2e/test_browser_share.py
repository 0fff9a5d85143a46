"""Share links in Debian's chromium: the owner shares a finished edit from the studio; the link,
opened in a fresh browser context (no local storage, no cookies, no gradio session), plays both
clips in step and fetches nothing but its own three URLs; revoked (under the result or from the
history list) it shows the "link not found" page.

Drift is measured as tests/e2e/test_browser_player_sync.py measures it (its sampler and bounds:
median within a frame, 95% within two, all within five), on an idle machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.browser import chromium_page, open_studio, wait_for_job
from tests.e2e.test_browser_player_sync import FRAME, measured, play_and_sample, within_bounds
from tests.mediagen import make_clip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PROMPT = "Make it black and white"
BOTH_READY = """() => { const e = document.querySelector('.kcmp-v-edit'),
    o = document.querySelector('.kcmp-v-orig');
    return e && o && e.readyState >= 3 && o.readyState >= 3 && e.duration > 0; }"""


@pytest.fixture(scope="module")
def studio(local_app, tmp_path_factory):
    """The owner's studio tab, with one finished local edit on screen."""
    clip = make_clip(tmp_path_factory.mktemp("share-media") / "clip.mp4", seconds=3.2, fps=24, crf=40,
                     source="testsrc2", tone=440)
    with chromium_page() as page:
        page.set_default_timeout(30_000)
        open_studio(page, local_app.url)
        page.set_input_files("#input-video input[type=file]", str(clip))
        page.locator("#preflight .preflight").wait_for()
        page.locator("#prompt-box textarea").fill(PROMPT)
        page.wait_for_function("() => !document.querySelector('#generate').disabled")
        assert page.locator("#share-create").is_disabled()  # nothing finished to share yet
        page.locator("#generate").click()
        # A local edit: seconds alone, minutes when other work keeps both cores busy.
        wait_for_job(page, timeout=200_000)
        yield page


def _share(studio) -> str:
    """Press Share link under the result; the link it shows."""
    button = studio.locator("#share-create")
    studio.wait_for_function("() => !document.querySelector('#share-create').disabled")
    button.click()
    studio.wait_for_function("() => /\\/share\\/[A-Za-z0-9_-]{43}$/.test("
                             "document.querySelector('#share-link textarea, #share-link input').value)")
    return studio.locator("#share-link textarea, #share-link input").input_value()


def _visitor(studio):
    """A page in a new browser context: what someone the link was sent to opens."""
    context = studio.context.browser.new_context(viewport={"width": 1280, "height": 900})
    return context, context.new_page()


def test_a_link_plays_both_clips_in_step_in_a_fresh_context_and_fetches_only_its_own_urls(studio):
    url = _share(studio)
    assert url.startswith(studio.url.rstrip("/") + "/share/")
    token = url.rsplit("/", 1)[1]
    context, page = _visitor(studio)
    try:
        errors: list[str] = []
        fetched: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))  # CSP violations too
        page.on("request", lambda r: fetched.append(r.url))
        answer = page.goto(url)
        assert answer.status == 200
        assert page.locator(".share-prompt").inner_text() == PROMPT
        page.wait_for_function(BOTH_READY, timeout=30_000)
        assert page.evaluate("() => localStorage.length") == 0 and context.cookies() == []

        def once() -> list:
            page.evaluate("() => { const e = document.querySelector('.kcmp-v-edit'); e.pause(); "
                          "e.currentTime = 0; }")
            page.wait_for_function("() => !document.querySelector('.kcmp-v-orig').seeking")
            drifts = play_and_sample(page, "e.ended || e.currentTime > 2.9")
            assert len(drifts) > 30
            return drifts

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "share_page.png"), full_page=True)
        studio.screenshot(path=str(ARTIFACTS / "share_studio.png"), full_page=True)
        figures = measured("share_page_play", once)
        assert within_bounds(figures), figures
        print(f"share page drift: {figures} (frame {1000 * FRAME:.1f} ms)")
        assert not errors, errors
        own = re.compile(re.escape(url) + r"(/(original|edited)\.mp4)?$")
        assert fetched and all(own.match(u) for u in fetched), fetched
        assert {u.rsplit("/", 1)[1] for u in fetched} == {token, "original.mp4", "edited.mp4"}
    finally:
        context.close()


def _refused(studio, url: str) -> None:
    context, page = _visitor(studio)
    try:
        answer = page.goto(url)
        assert answer.status == 404
        assert "This link was revoked or never existed." in page.locator("body").inner_text()
        assert page.locator("video").count() == 0
        clip = page.request.get(url + "/edited.mp4")
        assert clip.status == 404 and b"ftyp" not in clip.body()
    finally:
        context.close()


def test_revoking_under_the_result_refuses_the_link(studio):
    url = _share(studio)
    studio.locator("#share-revoke").click()
    studio.wait_for_function("() => document.querySelector('#share-link textarea, #share-link input')"
                             ".value === ''")
    _refused(studio, url)
    # Sharing again makes a new link; the revoked one stays dead.
    again = _share(studio)
    assert again != url
    _refused(studio, url)


def test_revoking_from_the_history_list_refuses_the_link(studio):
    url = _share(studio)
    links = studio.locator("#share-links")
    links.locator("input").click()
    option = studio.locator("#share-links [role=option]", has_text=PROMPT)
    assert option.count() == 1  # one link per result, labelled by its instruction
    option.click()
    studio.locator("#share-links-revoke").click()
    studio.wait_for_function("() => document.querySelector('#share-link textarea, #share-link input')"
                             ".value === ''")
    _refused(studio, url)
    links.locator("input").click()
    assert studio.locator("#share-links [role=option]", has_text=PROMPT).count() == 0
