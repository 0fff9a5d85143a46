"""The page's work per event: gradio's default hidden progress against ``components.ui.shown.QUIET``,
side by side in one chromium.

    python -m bench.bench_progress [--outputs 40] [--events 30]

Two pages that differ only in that, each a button whose event updates ``--outputs`` text boxes
with its progress hidden, are open at once in Debian's chromium. They are clicked in turn,
``--events`` times each, and each click waits until its page shows the answer. Measured per page:
its renderer's main-thread task time (CDP ``Performance.getMetrics``), per event. gradio gives
every output of an event a loading status unless the event names others, and on each status
change the page visits every component that ever had one (components/ui/shown.py).
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from typing import Any

import gradio as gr

from components.ui.shown import QUIET
from tests.e2e.browser import ARGS, CHROMIUM
from tests.e2e.player_page import serving

VARIANTS: dict[str, dict[str, Any]] = {"gradio's hidden": {"show_progress": "hidden"}, "QUIET": QUIET}


def _page(outputs: int, progress: dict[str, Any]) -> gr.Blocks:
    with gr.Blocks() as page:
        boxes = [gr.Textbox(str(i), elem_id=f"box-{i}") for i in range(outputs)]
        count = gr.State(0)
        go = gr.Button("go", elem_id="go")
        go.click(lambda n: [n + 1, *[f"{n + 1}:{i}" for i in range(outputs)]], count, [count, *boxes],
                 **progress)
    return page


def _task_seconds(cdp) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=int, default=40)
    parser.add_argument("--events", type=int, default=30)
    args = parser.parse_args()
    last = f"#box-{args.outputs - 1} textarea"
    with ExitStack() as stack, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tabs = {}
        for name, progress in VARIANTS.items():
            url = stack.enter_context(serving(_page(args.outputs, progress)))
            tab = browser.new_context().new_page()
            tab.goto(url)
            tab.wait_for_selector("#go")
            cdp = tab.context.new_cdp_session(tab)
            cdp.send("Performance.enable")
            tabs[name] = (tab, cdp)
        used = {name: -_task_seconds(cdp) for name, (_, cdp) in tabs.items()}
        for n in range(1, args.events + 1):
            answer = f"{n}:{args.outputs - 1}"
            for tab, _ in tabs.values():
                tab.locator("#go").click()
                tab.wait_for_function(f"() => document.querySelector({last!r})?.value === {answer!r}")
        for name, (_, cdp) in tabs.items():
            used[name] += _task_seconds(cdp)
        browser.close()
    per_event = {name: 1000 * seconds / args.events for name, seconds in used.items()}
    hidden, quiet = per_event["gradio's hidden"], per_event["QUIET"]
    print(f"page main-thread work per event, {args.outputs} outputs, {args.events} events each: "
          f"gradio's hidden progress {hidden:.1f} ms, QUIET {quiet:.1f} ms ({hidden / quiet:.1f}x less)")


if __name__ == "__main__":
    main()
