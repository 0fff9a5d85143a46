"""The comparison player in Debian's chromium, driven like a user: real gradio server, real H.264
clips of different size, frame rate and length, real clicks, drags and keys.

The tests share one page (loading it costs seconds), but none depends on what another left: the
``pair_a`` fixture puts pair A, paused, side by side, loop off, into the page when it is not there,
and a test that needs another state (an empty player, pair B, the dark theme) makes it itself. So
each test passes alone (``pytest path::test``) and in any order.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.browser import chromium_page
from tests.e2e.player_page import PAIRS, build_page, make_pairs, serving

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
EDIT_FPS = PAIRS["a"]["edited"]["fps"]
ORIG_FPS = PAIRS["a"]["original"]["fps"]
ORIG_SECONDS = PAIRS["a"]["original"]["seconds"]
FRAME = 1 / ORIG_FPS  # "within one frame" of the follower


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("player")
    page, _ = build_page(make_pairs(folder))
    with serving(page, folder) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as browser_page:
        errors: list[str] = []
        browser_page.on("pageerror", lambda e: errors.append(str(e)))
        browser_page.goto(server)
        browser_page.wait_for_selector(".kcmp", state="attached")
        yield browser_page
        assert not errors, errors


@pytest.fixture
def pair_a(page) -> None:
    """The shared page with pair A loaded, paused, side by side and not looping."""
    loaded = page.evaluate("""() => { const e = document.querySelector('.kcmp-v-edit'),
        o = document.querySelector('.kcmp-v-orig');
        return e.src.includes('a_edited') && o.src.includes('a_original') && !e.error
            && e.readyState >= 2 && o.readyState >= 2; }""")
    if not loaded:
        load_pair(page, "a")
    if page.get_attribute(".kcmp-loop", "aria-pressed") == "true":
        page.click(".kcmp-loop")
    page.click(".kcmp-view[data-view='side']")
    page.evaluate("document.querySelector('.kcmp-v-edit').pause()")


def times(page) -> dict:
    return page.evaluate("""() => { const e = document.querySelector('.kcmp-v-edit'),
        o = document.querySelector('.kcmp-v-orig');
        return {edit: e.currentTime, orig: o.currentTime, edit_paused: e.paused, orig_paused: o.paused,
                orig_duration: o.duration, edit_duration: e.duration, edit_seeking: e.seeking,
                orig_seeking: o.seeking}; }""")


def settled(page) -> dict:
    """The times once neither video is mid-seek (a seek is asynchronous)."""
    page.wait_for_function("""() => { const e = document.querySelector('.kcmp-v-edit'),
        o = document.querySelector('.kcmp-v-orig');
        return !e.seeking && !o.seeking && e.readyState >= 2 && o.readyState >= 2; }""", timeout=15000)
    return times(page)


def expected_orig(edit_time: float, orig_duration: float) -> float:
    return min(edit_time, orig_duration - 0.01)


def load_pair(page, name: str) -> None:
    page.click(f"#load-{name}")
    page.wait_for_function(f"""() => {{ const e = document.querySelector('.kcmp-v-edit'),
        o = document.querySelector('.kcmp-v-orig');
        return e.src.includes('{name}_edited') && o.src.includes('{name}_original')
            && e.readyState >= 2 && o.readyState >= 2; }}""", timeout=20000)


def pause_at(page, seconds: float) -> dict:
    page.evaluate(f"""() => {{ const e = document.querySelector('.kcmp-v-edit');
        e.pause(); e.currentTime = {seconds}; }}""")
    return settled(page)


def test_chromium_can_play_h264(page):
    verdict = page.evaluate(
        "document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.42E01E, mp4a.40.2\"')")
    assert verdict == "probably"


def test_empty_until_a_pair_arrives_then_both_videos_load(page, server):
    page.goto(server)  # a fresh page: the player is empty until a value arrives
    page.wait_for_selector(".kcmp", state="attached")
    assert page.get_attribute(".kcmp", "data-state") == "empty"
    assert page.locator(".kcmp-empty").is_visible()
    load_pair(page, "a")
    assert page.get_attribute(".kcmp", "data-state") == "ready"
    assert "a_edited.mp4" in page.get_attribute(".kcmp-dl-edit", "href")
    assert "a_side_by_side.mp4" in page.get_attribute(".kcmp-dl-sbs", "href")
    assert page.locator(".kcmp-dl-sbs").is_visible()
    with page.expect_download() as download:
        page.click(".kcmp-dl-edit")
    assert download.value.suggested_filename == "a_edited.mp4"
    seek_max = float(page.evaluate("document.querySelector('.kcmp-seek').max"))
    assert seek_max == pytest.approx(PAIRS["a"]["edited"]["seconds"], abs=0.1)  # the edit is the clock


@pytest.mark.usefixtures("pair_a")
def test_files_are_served_with_range_requests(page, server):
    src = page.evaluate("document.querySelector('.kcmp-v-edit').src")
    closed = httpx.get(src, headers={"Range": "bytes=100-199"})
    open_ended = httpx.get(src, headers={"Range": "bytes=1000-"})
    assert closed.status_code == 206 and len(closed.content) == 100
    assert open_ended.status_code == 206
    assert open_ended.headers["content-range"].startswith("bytes 1000-")


@pytest.mark.usefixtures("pair_a")
def test_play_moves_both_clocks_together(page):
    pause_at(page, 0.0)
    page.click(".kcmp-play")
    # What a user sees once playback is under way: both running, the original within two frames of
    # the edit. Both clocks are read in the same JS tick. On a busy machine the original starts a
    # little late and the player's rate nudge takes up to a second to close the gap, so this waits
    # for it (before the original's end at 3 s) instead of sampling one moment at 1 s.
    playing = page.wait_for_function(f"""() => {{ const e = document.querySelector('.kcmp-v-edit'),
        o = document.querySelector('.kcmp-v-orig');
        const t = {{edit: e.currentTime, orig: o.currentTime, edit_paused: e.paused, orig_paused: o.paused}};
        return e.currentTime > 1.0 && e.currentTime < {ORIG_SECONDS - 0.2} && !e.paused && !o.paused
            && Math.abs(o.currentTime - e.currentTime) <= {2 * FRAME} && t; }}""", timeout=15000).json_value()
    assert not playing["edit_paused"] and not playing["orig_paused"]
    assert playing["orig"] > 0.5
    assert abs(playing["orig"] - playing["edit"]) <= 2 * FRAME  # while both run
    page.click(".kcmp-play")
    paused = settled(page)
    assert paused["edit_paused"] and paused["orig_paused"]
    assert abs(paused["orig"] - paused["edit"]) <= FRAME


@pytest.mark.usefixtures("pair_a")
def test_seek_bar_moves_the_other_video_within_a_frame(page):
    pause_at(page, 0.0)
    bar = page.locator(".kcmp-seek").bounding_box()
    page.mouse.click(bar["x"] + bar["width"] * 0.5, bar["y"] + bar["height"] / 2)
    middle = settled(page)
    assert 1.5 < middle["edit"] < 2.5
    assert abs(middle["orig"] - expected_orig(middle["edit"], middle["orig_duration"])) <= FRAME
    # Past the end of the shorter original: it holds its last frame.
    page.mouse.click(bar["x"] + bar["width"] * 0.92, bar["y"] + bar["height"] / 2)
    late = settled(page)
    assert late["edit"] > ORIG_SECONDS
    assert late["orig_duration"] - late["orig"] <= FRAME


@pytest.mark.usefixtures("pair_a")
def test_setting_the_edit_time_moves_the_original(page):
    pause_at(page, 0.0)
    page.evaluate("document.querySelector('.kcmp-v-edit').currentTime = 1.23")
    page.wait_for_function("Math.abs(document.querySelector('.kcmp-v-orig').currentTime - 1.23) < 0.05",
                           timeout=10000)
    after = settled(page)
    assert after["edit"] == pytest.approx(1.23, abs=0.001)
    assert abs(after["orig"] - 1.23) <= FRAME


@pytest.mark.usefixtures("pair_a")
def test_frame_step_buttons_and_keys_move_one_frame(page):
    start = pause_at(page, 1.0)["edit"]
    page.click(".kcmp-forward")
    one = settled(page)
    assert one["edit"] - start == pytest.approx(1 / EDIT_FPS, abs=0.002)
    page.focus(".kcmp")
    page.keyboard.press(".")
    two = settled(page)
    assert two["edit"] - one["edit"] == pytest.approx(1 / EDIT_FPS, abs=0.002)
    page.keyboard.press(",")
    back = settled(page)
    assert back["edit"] == pytest.approx(one["edit"], abs=0.002)
    page.click(".kcmp-back")
    assert settled(page)["edit"] == pytest.approx(start, abs=0.002)
    assert abs(back["orig"] - back["edit"]) <= FRAME
    assert "frame 25" in page.text_content(".kcmp-time")


@pytest.mark.usefixtures("pair_a")
def test_space_toggles_play(page):
    pause_at(page, 0.0)
    page.focus(".kcmp-play")  # a focused button must not also "click" on the space key
    page.keyboard.press(" ")
    page.wait_for_function("!document.querySelector('.kcmp-v-edit').paused", timeout=10000)
    # Still playing a while later: a second toggle (the button's own "click") would have paused it
    # near 0 s, so the clock would never get this far.
    page.wait_for_function("""() => { const e = document.querySelector('.kcmp-v-edit');
        return !e.paused && e.currentTime > 0.5; }""", timeout=10000)
    assert not times(page)["edit_paused"]
    page.keyboard.press(" ")
    page.wait_for_function("document.querySelector('.kcmp-v-edit').paused", timeout=10000)
    assert times(page)["orig_paused"]


@pytest.mark.usefixtures("pair_a")
def test_wipe_layers_both_and_the_drag_moves_the_clip(page):
    pause_at(page, 1.5)
    page.click(".kcmp-view[data-view='wipe']")
    orig_box = page.locator(".kcmp-pane-orig").bounding_box()
    edit_box = page.locator(".kcmp-pane-edit").bounding_box()
    assert orig_box == pytest.approx(edit_box, abs=1)  # stacked on one another
    assert page.locator(".kcmp-divider").is_visible()
    clip = page.evaluate("getComputedStyle(document.querySelector('.kcmp-pane-edit')).clipPath")
    assert clip == "inset(0px 0px 0px 50%)"
    y = edit_box["y"] + edit_box["height"] / 2
    page.mouse.move(edit_box["x"] + edit_box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(edit_box["x"] + edit_box["width"] * 0.35, y, steps=4)
    page.mouse.move(edit_box["x"] + edit_box["width"] * 0.25, y, steps=4)
    page.mouse.up()
    clip = page.evaluate("getComputedStyle(document.querySelector('.kcmp-pane-edit')).clipPath")
    percent = float(clip.removeprefix("inset(0px 0px 0px ").removesuffix("%)"))
    assert percent == pytest.approx(25, abs=1.5)
    assert page.get_attribute(".kcmp-divider", "aria-valuenow") == str(round(percent))
    page.focus(".kcmp-divider")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute(".kcmp-divider", "aria-valuenow") == str(round(percent + 2))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "comparison_player_wipe.png"))
    page.click(".kcmp-view[data-view='side']")
    assert page.evaluate("getComputedStyle(document.querySelector('.kcmp-pane-edit')).clipPath") == "none"


def label_offsets(page) -> dict:
    """How far each label sits from its pane's left and right edges, in pixels."""
    return page.evaluate("""() => Object.fromEntries(['orig', 'edit'].map((side) => {
        const pane = document.querySelector(`.kcmp-pane-${side}`).getBoundingClientRect(),
              label = document.querySelector(`.kcmp-label-${side}`).getBoundingClientRect();
        return [side, {left: label.left - pane.left, right: pane.right - label.right}]; }))""")


@pytest.mark.usefixtures("pair_a")
def test_labels_name_each_side_where_it_shows(page):
    pause_at(page, 1.0)
    side = label_offsets(page)
    assert side["orig"]["left"] < 20 and side["edit"]["left"] < 20
    page.click(".kcmp-view[data-view='wipe']")
    wipe = label_offsets(page)  # the edit shows right of the divider, so its label goes right
    page.click(".kcmp-view[data-view='side']")
    assert wipe["orig"]["left"] < 20 and wipe["edit"]["right"] < 20


@pytest.mark.usefixtures("pair_a")
def test_mute_toggles_only_its_side(page):
    muted = "() => ['.kcmp-v-orig', '.kcmp-v-edit'].map((s) => document.querySelector(s).muted)"
    assert page.evaluate(muted) == [True, False]  # default: hear the edit
    page.click(".kcmp-mute[data-side='edit']")
    assert page.evaluate(muted) == [True, True]
    page.click(".kcmp-mute[data-side='orig']")
    assert page.evaluate(muted) == [False, True]
    assert page.text_content(".kcmp-mute[data-side='orig']") == "Original: sound"
    page.click(".kcmp-mute[data-side='orig']")
    page.click(".kcmp-mute[data-side='edit']")
    assert page.evaluate(muted) == [True, False]


@pytest.mark.usefixtures("pair_a")
def test_loop_restarts_and_without_it_playback_stops_at_the_end(page):
    near_end = "() => { const e = document.querySelector('.kcmp-v-edit'); e.currentTime = e.duration - 0.3; }"
    page.click(".kcmp-loop")
    assert page.get_attribute(".kcmp-loop", "aria-pressed") == "true"
    pause_at(page, 0)
    page.evaluate(near_end)
    settled(page)
    page.click(".kcmp-play")
    page.wait_for_function("""() => { const e = document.querySelector('.kcmp-v-edit'),
        o = document.querySelector('.kcmp-v-orig');
        return !e.paused && e.currentTime > 0.2 && e.currentTime < 1.0 && !o.paused; }""", timeout=15000)
    page.click(".kcmp-loop")
    page.evaluate(near_end)
    page.wait_for_function("document.querySelector('.kcmp-v-edit').ended", timeout=15000)
    assert times(page)["edit_paused"]


@pytest.mark.usefixtures("pair_a")
def test_narrow_screens_stack_the_two_videos(page):
    page.set_viewport_size({"width": 480, "height": 900})
    try:
        orig_box = page.locator(".kcmp-pane-orig").bounding_box()
        edit_box = page.locator(".kcmp-pane-edit").bounding_box()
        assert orig_box["y"] + orig_box["height"] <= edit_box["y"] + 1
        page.screenshot(path=str(ARTIFACTS / "comparison_player_narrow.png"))
    finally:
        page.set_viewport_size({"width": 1440, "height": 1000})
    orig_box = page.locator(".kcmp-pane-orig").bounding_box()
    edit_box = page.locator(".kcmp-pane-edit").bounding_box()
    assert orig_box["y"] == pytest.approx(edit_box["y"], abs=1)


@pytest.mark.usefixtures("pair_a")
def test_a_new_value_loads_the_new_pair(page):
    pause_at(page, 1.0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "comparison_player.png"))
    load_pair(page, "b")
    assert page.text_content(".kcmp-label-orig") == "Before"
    assert page.text_content(".kcmp-label-edit") == "After"
    assert not page.locator(".kcmp-dl-sbs").is_visible()  # pair b has no side-by-side file
    assert "b_edited.mp4" in page.get_attribute(".kcmp-dl-edit", "href")
    start = pause_at(page, 1.0)["edit"]
    page.click(".kcmp-forward")
    assert settled(page)["edit"] - start == pytest.approx(1 / PAIRS["b"]["edited"]["fps"], abs=0.002)


def test_dark_theme_keeps_the_controls_readable(page, server):
    page.goto(server + "?__theme=dark")
    load_pair(page, "a")
    color = page.evaluate("getComputedStyle(document.querySelector('.kcmp-time')).color")
    channels = [int(c) for c in color.removeprefix("rgb(").removesuffix(")").split(",")[:3]]
    assert sum(channels) / 3 > 120  # light text on the dark background
    page.screenshot(path=str(ARTIFACTS / "comparison_player_dark.png"))


def test_an_undecodable_edit_gets_a_sentence_not_a_black_box(page):
    page.click("#load-broken")
    page.wait_for_selector(".kcmp-error", state="visible", timeout=10000)
    message = page.text_content(".kcmp-error")
    assert "could not play the edited clip" in message and "download" in message
    load_pair(page, "a")
    assert not page.locator(".kcmp-error").is_visible()
