"""How many pages can follow their edits at once while a newcomer still gets a quick answer.

    python -m bench.bench_capacity [--sessions 500] [--visitors 20] [--fal-seconds 60]

The app runs as in production (its own process, the server key) against the fake fal in a process
of its own, where each edit takes ``--fal-seconds``. ``--sessions`` tabs each press Generate and then
follow their edit as the page does (the timer's unqueued tick, one ask at a time). While all of them
follow, ``--visitors`` newcomers one after another upload a clip, have it pre-checked and press
Generate. Printed, side by side in one run:

- the newcomers' pre-check start (join to a worker taking it) and Generate-to-job-recorded times,
  p50 and p95 (goal at 500 sessions: pre-check p95 < 1 s, Generate < 2 s);
- the app's CPU over the following phase (core-seconds per second) and its peak RSS;
- how many edits did not end as succeeded once fal finished them all (goal: 0 lost).

The load comes from this process (asyncio and httpx on loopback), on the same two cores as the app.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from components.config import MODEL_ID
from components.ui.follow import FOLLOW_TICK_S
from tests.e2e.app_server import AppServer
from tests.e2e.page_protocol import Page, Tab, upload
from tests.fakes.fal_fixtures import fake_fal_process
from tests.mediagen import make_clip

KEY = "bench-capacity-key:0123456789"
TABS_PER_CLIENT = 20
REFRESH = re.compile(r'data-refresh="([^"]*)"')


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    return [proc, *proc.children(recursive=True)]


def _cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in _tree(proc):
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _rss(proc: psutil.Process) -> int:
    total = 0
    for p in _tree(proc):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


async def _run(app: AppServer, clip: Path, sessions: int, visitors: int, fal_seconds: float) -> dict:
    proc = psutil.Process(app.proc.pid)
    # Tabs share clients in small groups, as browsers would have a connection pool each: one pool
    # of a thousand connections costs httpcore a scan of all of them per request.
    async with contextlib.AsyncExitStack() as stack:
        def client() -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=app.url, timeout=300, trust_env=False,
                                     limits=httpx.Limits(max_connections=2 * TABS_PER_CLIENT + 4))

        pools = [await stack.enter_async_context(client()) for _ in range(-(-sessions // TABS_PER_CLIENT))]
        http = await stack.enter_async_context(client())
        page = await Page.load(http)
        generate, tick = page.event("generate", "click"), page.timer_tick()
        precheck, refresh = page.event("input-video", "change"), page.event("job-progress", "submit")
        clip_file = await upload(http, clip)

        def generate_data(tab: Tab, clip_data: dict) -> list:
            return [tab.owner, clip_data, "Make it look like winter", [], [], False, MODEL_ID, 1, False, 0.0]

        tabs = [Tab(pools[i // TABS_PER_CLIENT]) for i in range(sessions)]
        panels: dict[int, str] = {}  # the panel each tab's Generate answered with (its whole view)

        async def press_generate(i: int, tab: Tab) -> None:
            answer = await tab.call(generate, generate_data(tab, clip_file))
            panels[i] = page.output_values(generate, answer["output"]["data"])["job-progress"]

        began = time.monotonic()
        for i in range(0, sessions, 50):  # as a crowd arrives: fifty at a time
            await asyncio.gather(*(press_generate(j, tabs[j]) for j in range(i, min(i + 50, sessions))))
        ramp = time.monotonic() - began
        stop = asyncio.Event()
        asks, dropped = [0], [0]
        refresh_waits: list[float] = []

        async def follow(i: int, tab: Tab) -> None:
            """As the page does: each timer tick asks with the panel it shows (none while an ask
            waits); a panel whose refresh mark changed fetches the whole view once (the panel that
            came with Generate's whole view is the first one shown)."""
            shown = panels[i]
            mark = REFRESH.search(shown)[1]
            while not stop.is_set():
                began_ask = time.monotonic()
                try:
                    answer = await tab.predict(tick, [None, shown, tab.owner])
                except httpx.TransportError:  # the page's timer just ticks again
                    dropped[0] += 1
                    await asyncio.sleep(FOLLOW_TICK_S)
                    continue
                asks[0] += 1
                panel = answer["data"][0]
                if isinstance(panel, str):
                    shown = panel
                    new_mark = REFRESH.search(panel)
                    if new_mark and new_mark[1] != mark:
                        mark = new_mark[1]
                        refreshed = await tab.call(refresh, [None, tab.owner], timeout=900)
                        refresh_waits.append(refreshed["seconds_to_start"])
                await asyncio.sleep(FOLLOW_TICK_S - (time.monotonic() - began_ask) % FOLLOW_TICK_S)

        following = [asyncio.create_task(follow(i, t)) for i, t in enumerate(tabs)]
        await asyncio.sleep(2)  # every follower has asked at least once
        cpu0, own0, t0, rss_peak = _cpu(proc), _cpu(psutil.Process()), time.monotonic(), _rss(proc)
        prechecks, generates = [], []
        for _ in range(visitors):
            visitor = Tab(http)
            mine = await upload(http, clip)
            checked = await visitor.call(precheck, [mine])
            assert checked["success"], checked
            prechecks.append(checked["seconds_to_start"])
            asked = time.monotonic()
            made = await visitor.call(generate, generate_data(visitor, mine))
            assert made["success"], made
            generates.append(time.monotonic() - asked)
            rss_peak = max(rss_peak, _rss(proc))
            await asyncio.sleep(0.5)
        span = time.monotonic() - t0
        cpu = (_cpu(proc) - cpu0) / span
        load_cpu = (_cpu(psutil.Process()) - own0) / span
        ask_rate = asks[0] / (time.monotonic() - began - ramp)
        with sqlite3.connect(app.data_dir / "jobs.sqlite3") as conn:
            at_fal = conn.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running') "
                                  "AND output_video IS NULL").fetchone()[0]
        # Printed now: the wait for every result below can take minutes.
        print(f"  newcomer pre-check start: p50 {statistics.median(prechecks):.3f} s, "
              f"p95 {_pct(prechecks, 0.95):.3f} s (goal < 1 s)")
        print(f"  newcomer Generate to job recorded: p50 {statistics.median(generates):.3f} s, "
              f"p95 {_pct(generates, 0.95):.3f} s (goal < 2 s)")
        print(f"  edits still at fal when the last newcomer was measured: {at_fal} of {sessions + visitors}")
        print(f"(newcomers measured; waiting for the {sessions + visitors} edits to end)", flush=True)
        # Then every edit finishes at fal: wait for all of them (downloads, stills and side-by-side
        # renders take their turns on the same two cores), still following.
        deadline = time.monotonic() + fal_seconds + 600 + sessions * 2.0
        db = app.data_dir / "jobs.sqlite3"
        while time.monotonic() < deadline:
            with sqlite3.connect(db) as conn:
                open_jobs = conn.execute("SELECT COUNT(*) FROM jobs WHERE status IN "
                                         "('queued', 'running')").fetchone()[0]
            rss_peak = max(rss_peak, _rss(proc))
            if not open_jobs:
                break
            await asyncio.sleep(2)
        settled = time.monotonic() - t0 - span
        stop.set()
        await asyncio.gather(*following)
        with sqlite3.connect(db) as conn:
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())
    return {"prechecks": prechecks, "generates": generates, "cpu": cpu, "rss": rss_peak, "counts": counts,
            "ramp": ramp, "ask_rate": ask_rate, "load_cpu": load_cpu, "refresh_waits": refresh_waits,
            "settled": settled, "dropped": dropped[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--fal-seconds", type=float, default=60.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-capacity-"))
    # The cheapest clip fal accepts: the renders after the edits cost as little as they can.
    clip = make_clip(root / "clip.mp4", seconds=3.0, width=720, height=720, fps=24, crf=45, source="color")
    with fake_fal_process(keys=(KEY,), run_s=args.fal_seconds) as (url, stats):
        env = {"STUDIO_SERVER_BUDGET_USD_PER_DAY": "1000000",
               "STUDIO_SERVER_EDITS_PER_IP_PER_HOUR": "1000000",
               "STUDIO_FAL_CONCURRENCY": str(args.sessions + args.visitors)}
        app = AppServer(root / "app", fal_key=KEY, fake_fal_url=url, env=env).start()
        try:
            out = asyncio.run(_run(app, clip, args.sessions, args.visitors, args.fal_seconds))
        finally:
            app.stop()
        submits = stats().get("submits")
    total = args.sessions + args.visitors
    lost = total - out["counts"].get("succeeded", 0)
    print(f"{args.sessions} sessions following edits of {args.fal_seconds:g} s at fal, "
          f"{args.visitors} newcomers")
    print(f"  ramp: {args.sessions} Generates in {out['ramp']:.1f} s; follow asks {out['ask_rate']:.0f}/s "
          f"({out['dropped']} dropped by the connection and asked again)")
    print(f"  app CPU while following: {out['cpu']:.2f} cores (this load generator: {out['load_cpu']:.2f}); "
          f"peak RSS {out['rss'] / 2**20:.0f} MB")
    waits = out["refresh_waits"]
    print(f"  whole-view refreshes: {len(waits)}, waited for a worker p50 {statistics.median(waits):.2f} s, "
          f"p95 {_pct(waits, 0.95):.2f} s, max {max(waits):.1f} s")
    print(f"  every edit ended {out['settled']:.0f} s after the newcomers' last Generate "
          f"(edits of {args.fal_seconds:g} s at fal, then downloads, stills and side-by-sides)")
    print(f"  jobs by status: {out['counts']}; fal submits {submits}; lost: {lost} (goal 0)")


if __name__ == "__main__":
    main()
