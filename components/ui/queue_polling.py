"""How often gradio's queue looks for work while it has none.

gradio 6.31's ``Queue`` polls for new events every millisecond on Linux (``sleep_when_free``) and
for pending progress every 10 ms (``progress_update_sleep_when_free``), whether or not anybody is
connected: an idle gradio process spends about 5% of a core on it, about a third of that at the
values below (``python -m bench.bench_idle``: 0.054 vs 0.016 of a core). On a two-core Space that
is CPU taken from the renders, and in the test suite, where several apps are up at once, it added
up to seconds of every run. Events here start edits that take seconds, so picking one up 10 ms
later, or a progress line 50 ms later, is not noticeable.

The attributes are gradio's own (no public setting exists); a gradio that renames them keeps its
defaults, and tests/test_queue_polling.py says so.
"""

from __future__ import annotations

import gradio as gr

EVENT_POLL_S = 0.01
PROGRESS_POLL_S = 0.05


def poll_gently(blocks: gr.Blocks) -> gr.Blocks:
    """Apply the intervals above to ``blocks``' queue; call it after the last ``queue()``."""
    queue = blocks._queue
    intervals = {"sleep_when_free": EVENT_POLL_S, "progress_update_sleep_when_free": PROGRESS_POLL_S}
    for name, seconds in intervals.items():
        if hasattr(queue, name):
            setattr(queue, name, seconds)
    return blocks
