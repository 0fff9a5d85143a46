"""Drift between the two videos of the comparison player, measured in Debian's chromium while two
processes keep the CPU busy (the studio renders its side-by-side mp4 right when the result first
plays; CI boxes are shared).

Drift is sampled on every animation frame while the edit plays: ``currentTime`` of both videos read
in the same JS tick. Paused frame steps must land exactly together. While playing, through loop
wraps, a seek-then-play and play after frame steps, of the samples taken while the page was
responsive the median must be within one frame, 95% within two and all within five (a decoder
starved by the busy CPU holds the follower back until the correction catches it up). The old
player fails this (its loop wraps: 95th percentile 117 ms, near three frames); on a machine busy
only with this module's two burners the new one keeps 95% within one frame (see the figures).
A page starved of the CPU for more than STALL_MS runs none of the player's code, so samples in
the RECOVER_MS after such a freeze are reported (overall max and p95) but not held to the bound.
The clips match the studio's: 1280x720 at 24 fps, same length, each with its own tone.
Figures: tests/artifacts/sync_drift.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import pytest

from components.ui.comparison import build, player_value
from tests.e2e.browser import chromium_page
from tests.e2e.player_page import by_path, serving
from tests.mediagen import make_clip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SECONDS, FPS = 3.0, 24
FRAME = 1 / FPS
FIGURES: dict[str, dict] = {}
STALL_MS, RECOVER_MS = 100, 300
SERIES: list[list] = []  # (ms since play, edit time, original time) per sample, for a look by hand

SAMPLER = """() => {
  const e = document.querySelector('.kcmp-v-edit'), o = document.querySelector('.kcmp-v-orig');
  window.__drift = { samples: [], on: true };
  const take = () => {
    const s = window.__drift.samples;
    if (!e.paused && !e.seeking) s.push([performance.now(), e.currentTime, o.currentTime]);
    if (window.__drift.on) requestAnimationFrame(take);
  };
  requestAnimationFrame(take);
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("sync")
    original = make_clip(folder / "sync_original.mp4", seconds=SECONDS, fps=FPS, source="testsrc2",
                         preset="veryfast", tone=440)
    edited = make_clip(folder / "sync_edited.mp4", seconds=SECONDS, fps=FPS, source="testsrc",
                       preset="veryfast", tone=880)
    with gr.Blocks() as page:
        player = build()
        gr.Button("Load", elem_id="load").click(lambda: player_value(original, edited, url=by_path),
                                                outputs=player)
    with serving(page, folder) as url:
        yield url


@contextmanager
def busy_cpu() -> Iterator[None]:
    """Two spinning processes, one per core, while the block runs."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(10)


@pytest.fixture(scope="module")
def page(server):
    """The loaded pair, then the CPU kept busy for every test of the module: only the playing is
    measured, so chromium starts and loads the clips first (under the burners that took seconds)."""
    with chromium_page() as browser_page:
        errors: list[str] = []
        browser_page.on("pageerror", lambda e: errors.append(str(e)))
        browser_page.goto(server)
        browser_page.click("#load")
        browser_page.wait_for_function("""() => { const e = document.querySelector('.kcmp-v-edit'),
            o = document.querySelector('.kcmp-v-orig');
            return e.readyState >= 3 && o.readyState >= 3 && e.duration > 0; }""", timeout=30000)
        with busy_cpu():
            yield browser_page
        assert not errors, errors
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "sync_drift.json").write_text(json.dumps(FIGURES, indent=2))
    (ARTIFACTS / "sync_drift_samples.json").write_text(json.dumps(SERIES))


def settled(page) -> dict:
    page.wait_for_function("""() => { const e = document.querySelector('.kcmp-v-edit'),
        o = document.querySelector('.kcmp-v-orig');
        return !e.seeking && !o.seeking && e.readyState >= 2 && o.readyState >= 2; }""", timeout=15000)
    return page.evaluate("""() => ({ edit: document.querySelector('.kcmp-v-edit').currentTime,
        orig: document.querySelector('.kcmp-v-orig').currentTime,
        paused: document.querySelector('.kcmp-v-edit').paused })""")


def pause_at(page, seconds: float) -> dict:
    page.evaluate(f"""() => {{ const e = document.querySelector('.kcmp-v-edit');
        e.pause(); e.currentTime = {seconds}; }}""")
    return settled(page)


def set_loop(page, on: bool) -> None:
    if (page.get_attribute(".kcmp-loop", "aria-pressed") == "true") != on:
        page.click(".kcmp-loop")


def play_and_sample(page, until: str) -> list[tuple[float, bool]]:
    """Press play, sample until the JS condition ``until`` holds (given e, o and the samples s),
    pause, and return (drift, page responsive) per sample: drift is original minus edit (across a
    loop wrap the shorter way round), responsive is false within RECOVER_MS of a freeze."""
    page.evaluate(SAMPLER)
    page.click(".kcmp-play")
    page.wait_for_function(f"""() => {{ const e = document.querySelector('.kcmp-v-edit'),
        o = document.querySelector('.kcmp-v-orig'), s = window.__drift.samples; return {until}; }}""",
                           timeout=60000, polling=50)
    samples = page.evaluate("() => { window.__drift.on = false; return window.__drift.samples; }")
    page.evaluate("() => document.querySelector('.kcmp-v-edit').pause()")
    drifts = []
    freezes: list[float] = []
    previous = None
    for at, edit, orig in samples:
        if previous is not None and at - previous > STALL_MS:
            freezes.append(at)
        previous = at
        d = orig - edit
        d = (d + SECONDS / 2) % SECONDS - SECONDS / 2  # 2.99 vs 0.01 is 0.02 apart, not 2.98
        drifts.append((d, not any(0 <= at - f < RECOVER_MS for f in freezes)))
    SERIES.append([[round(t - samples[0][0]), round(e, 3), round(o, 3)] for t, e, o in samples])
    return drifts


def record(name: str, drifts: list[tuple[float, bool]]) -> dict:
    absolute = sorted(abs(d) for d, _ in drifts)
    responsive = sorted(abs(d) for d, ok in drifts if ok) or [0.0]
    figures = {"samples": len(drifts), "max_ms": round(1000 * absolute[-1], 1),
               "p95_ms": round(1000 * absolute[int(0.95 * (len(absolute) - 1))], 1),
               "mean_ms": round(1000 * sum(absolute) / len(absolute), 1),
               "responsive_samples": sum(ok for _, ok in drifts),
               "responsive_max_ms": round(1000 * responsive[-1], 1),
               "responsive_p50_ms": round(1000 * responsive[(len(responsive) - 1) // 2], 1),
               "responsive_p95_ms": round(1000 * responsive[int(0.95 * (len(responsive) - 1))], 1),
               "frame_ms": round(1000 * FRAME, 1)}
    FIGURES[name] = figures
    print(name, figures)
    return figures


ATTEMPTS = 3  # a neighbour's burst can starve the page for seconds: retried, every figure kept


def within_bounds(figures: dict) -> bool:
    return (figures["responsive_p50_ms"] <= 1000 * FRAME
            and figures["responsive_p95_ms"] <= 2000 * FRAME
            and figures["responsive_max_ms"] <= 5000 * FRAME)


def measured(name: str, attempt_once) -> dict:
    """Run ``attempt_once`` (which returns the drifts) until its figures are within bounds, at
    most ATTEMPTS times; every attempt's figures are recorded, the last one is returned."""
    for attempt in range(1, ATTEMPTS + 1):
        figures = record(name if attempt == 1 else f"{name}_attempt{attempt}", attempt_once())
        if within_bounds(figures):
            break
    return figures


def test_loop_wraps_stay_within_a_frame(page):
    def once() -> list:
        set_loop(page, True)
        pause_at(page, SECONDS - 0.8)
        # Two wraps: from 2.2 s through 0 twice, then on to 0.6 s (0.8 + 3.0 + 0.6 s).
        drifts = play_and_sample(page, "s.length > 30 && s[s.length - 1][0] - s[0][0] > 3000 + 1400")
        assert len(drifts) > 40
        return drifts

    figures = measured("loop_wraps", once)
    assert within_bounds(figures), figures


def test_seek_then_play_stays_within_a_frame(page):
    def once() -> list:
        set_loop(page, False)
        pause_at(page, 0.5)
        bar = page.locator(".kcmp-seek").bounding_box()
        page.mouse.click(bar["x"] + bar["width"] * 0.8, bar["y"] + bar["height"] / 2)
        at = settled(page)
        assert at["edit"] == pytest.approx(0.8 * SECONDS, abs=0.15)
        assert abs(at["orig"] - at["edit"]) <= FRAME / 2  # the seek moved both
        drifts = play_and_sample(page, "e.ended || e.currentTime > 3.0 - 0.06")
        assert len(drifts) > 10
        return drifts

    figures = measured("seek_then_play", once)
    assert within_bounds(figures), figures


def test_frame_steps_then_play_stay_within_a_frame(page):
    def once() -> list:
        set_loop(page, True)
        start = pause_at(page, 1.0)["edit"]
        page.focus(".kcmp")
        steps = []
        for n in range(1, 5):
            page.keyboard.press(".")
            after = start + (n - 0.5) * FRAME
            page.wait_for_function(f"document.querySelector('.kcmp-v-edit').currentTime > {after}")
            at = settled(page)
            steps.append((at["orig"] - at["edit"], True))
        record("frame_steps_paused", steps)
        assert max(abs(d) for d, _ in steps) <= FRAME / 2  # paused, the two land on the same instant
        return play_and_sample(page, "s.length > 20 && s[s.length - 1][0] - s[0][0] > 1500")

    figures = measured("play_after_frame_steps", once)
    assert within_bounds(figures), figures
