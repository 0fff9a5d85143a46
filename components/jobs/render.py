"""The side-by-side render every finished edit gets: original | edited in one mp4, for a deck.

It is CPU work after the (possibly paid) edit, so it waits for one of a few render slots however
many fal jobs finish at once, and its failure never fails the job: the edited clip is the result,
the side-by-side is a convenience, and a note says why it is missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.errors import StudioError
from components.media.compare import side_by_side

log = logging.getLogger(__name__)

# (original, edited, out_path, *, on_progress=fraction callback): components.media.compare's shape.
SideBySide = Callable[..., object]
# A progress line for the job: (message, urgent).
Report = Callable[[str, bool], None]

OUTPUT_NAME = "side_by_side.mp4"
NO_ORIGINAL = "No side-by-side view: the original clip of this request is not on this server."


@dataclass(frozen=True)
class Rendered:
    path: Path | None  # None when there is no side-by-side view
    note: str | None = None  # why not, for the job's notes
    seconds: float | None = None  # time spent waiting and rendering, for the job's timings


class SideBySideRenderer:
    def __init__(self, concurrency: int, make: SideBySide | None = None) -> None:
        self._make = make or side_by_side
        # Many fal jobs can finish at once; their renders are CPU work and wait their turn here.
        self._slots = asyncio.Semaphore(concurrency)

    async def render(self, job_id: str, original: Path | None, edited: Path, workdir: Path,
                     report: Report) -> Rendered:
        """Render ``original`` | ``edited`` into ``workdir``; ``original`` None (or gone) means a
        job reattached by id whose clip this server never had."""
        if original is None or not original.is_file():
            return Rendered(None, NO_ORIGINAL)
        report("The edit is ready; waiting to render the side-by-side mp4 for download", True)
        began = time.monotonic()
        out = workdir / OUTPUT_NAME

        def on_progress(fraction: float) -> None:
            report(f"The edit is ready; rendering the side-by-side mp4, {fraction:.0%}", False)

        path, note = None, None
        try:
            async with self._slots:
                await asyncio.to_thread(self._make, original, edited, out, on_progress=on_progress)
            path = out
        except StudioError as error:
            note = f"The side-by-side view could not be made: {error}"
        except Exception:
            log.exception("side-by-side of job %s failed", job_id)
            note = "The side-by-side view could not be made; the edited clip is complete."
        return Rendered(path, note, round(time.monotonic() - began, 3))
