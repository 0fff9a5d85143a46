"""The runner's own event loop, in a daemon thread: jobs belong to the server, not to a request.

Gradio handlers run on gradio's loop (or in worker threads) and end when a tab closes; a job started
from one must outlive it. Everything a job does runs here, whatever thread asked for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from components.errors import StudioError

log = logging.getLogger(__name__)


class RunnerLoop:
    def __init__(self, name: str = "job-runner") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Future:
        """Start ``coro`` on the loop from any thread; a crash in it is logged, never silent."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        future.add_done_callback(_log_if_crashed)
        return future

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop thread after ``delay`` seconds, from any thread."""
        self._loop.call_soon_threadsafe(self._loop.call_later, delay, callback)

    def every(self, seconds: float, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Await ``work()`` every ``seconds`` until the loop closes."""
        async def forever() -> None:
            while True:
                await asyncio.sleep(seconds)
                await work()

        self.run(forever())

    def close(self, timeout: float = 10.0) -> None:
        """Stop as a process exit would: every task is cancelled where it stands (jobs stay
        recorded as running, for recovery in the next process) and the thread ends."""
        async def stop() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(stop(), self._loop)
            self._thread.join(timeout)


def _log_if_crashed(future: Future) -> None:
    # The runner turns every engine failure into a job state; what reaches here is the bookkeeping
    # itself failing (the disk full, the database gone), which must not pass silently. A StudioError
    # is an answer for the caller that awaits it (a clip Fix it refuses, a cancel), not a crash.
    if not future.cancelled() and not isinstance(future.exception(), StudioError | None):
        log.error("job runner task crashed", exc_info=future.exception())
