"""Per-session limits that keep one visitor of a public Space from spending everyone's capacity.

Counted in memory per owner id: the limits protect a running process, and a restart forgetting a
visitor's count is harmless, whereas a store write per check would put I/O on every click.
"""

from __future__ import annotations

import math
import time

from components.errors import RateLimitError
from components.guard.windows import SlidingWindow

WINDOW_S = 3600.0


class SessionLimiter:
    def __init__(self, per_hour: int, max_in_flight: int, clock=time.monotonic) -> None:
        self.per_hour = per_hour
        self.max_in_flight = max_in_flight
        self._starts: SlidingWindow[None] = SlidingWindow(WINDOW_S, clock)

    def acquire(self, owner: str, in_flight: int) -> None:
        """Record a new edit for ``owner`` or raise ``RateLimitError`` saying when to try again."""
        if in_flight >= self.max_in_flight:
            raise RateLimitError(
                f"You already have {in_flight} edits running (limit {self.max_in_flight} at once).",
                fix="Wait for one to finish or cancel one, then try again.")
        with self._starts.lock:
            started = len(self._starts.entries(owner))
            if started >= self.per_hour:
                raise RateLimitError(
                    f"You have started {started} edits in the last hour (limit {self.per_hour}).",
                    fix=f"Try again in {math.ceil(self._starts.wait_s(owner) / 60)} min.")
            self._starts.add(owner, None)
