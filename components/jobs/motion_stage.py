"""A finished edit's motion score (``media.motion``), measured after its result and side-by-side
exist, at background priority: it never delays the result's first play.

Scoring reads both clips and tracks features with OpenCV, which releases the GIL while it works, so
it runs in one thread of its own whose CPU priority is lowered (Linux applies niceness per thread):
on a busy machine, serving pages and rendering what people wait for comes first. One score at a
time: the original's tracklets are cached by content, so takes and re-edits of one clip share them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from components.media import motion

log = logging.getLogger(__name__)

NICENESS = 10  # as the side-by-side's ffmpeg: about a tenth of the app's CPU weight when both want it
NOT_MEASURABLE = ("Motion kept: not measurable (the original has too little texture or movement to "
                  "track), so no score is given.")


def _background() -> None:
    with contextlib.suppress(OSError, AttributeError):  # a platform without per-thread priorities
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


class MotionStage:
    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="motion", initializer=_background)

    async def measure(self, job_id: str, original: Path | None,
                      edited: Path) -> tuple[float | None, str | None]:
        """The score and, when there is none, the note that says why (None, None: nothing to
        compare, e.g. a job resumed by id whose clip this server never had)."""
        if original is None or not original.is_file():
            return None, None
        try:
            score = await asyncio.get_running_loop().run_in_executor(
                self._pool, motion.score, original, edited, self._cache_dir)
        except Exception:  # a score is extra: its failure must never fail the edit
            log.exception("motion score of job %s failed", job_id)
            return None, None
        return score, None if score is not None else NOT_MEASURABLE
