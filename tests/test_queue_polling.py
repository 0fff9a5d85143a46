"""gradio's queue polls gently in the studio: the intervals land on the attributes gradio's own
loops read (a renamed attribute in a gradio upgrade would otherwise leave the 1 ms poll in place)."""

import inspect

import gradio as gr
from gradio.queueing import Queue

from components.ui.queue_polling import EVENT_POLL_S, PROGRESS_POLL_S, poll_gently


def test_the_loops_read_the_attributes_that_are_set():
    assert "await asyncio.sleep(self.sleep_when_free)" in inspect.getsource(Queue.start_processing)
    assert "await asyncio.sleep(self.progress_update_sleep_when_free)" in \
        inspect.getsource(Queue.start_progress_updates)


def test_a_queue_made_by_queue_polls_at_the_gentle_intervals():
    with gr.Blocks() as demo:
        gr.Button("go").click(lambda: None)
    poll_gently(demo.queue(default_concurrency_limit=4))
    assert demo._queue.sleep_when_free == EVENT_POLL_S
    assert demo._queue.progress_update_sleep_when_free == PROGRESS_POLL_S
