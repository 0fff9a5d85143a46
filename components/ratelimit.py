"""Per-session limits that keep one visitor of a public Space from spending everyone's capacity.

Counted in memory per owner id: the limits protect a running process, and a restart forgetting a
visitor's count is harmless, whereas a store write per check would put I/O on every click.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

from components.errors import RateLimitError

WINDOW_S = 3600.0


class SessionLimiter:
    def __init__(self, per_hour: int, max_in_flight: int, clock=time.monotonic) -> None:
        self.per_hour = per_hour
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._starts: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def acquire(self, owner: str, in_flight: int) -> None:
        """Record a new edit for ``owner`` or raise ``RateLimitError`` saying when to try again."""
        if in_flight >= self.max_in_flight:
            raise RateLimitError(
                f"You already have {in_flight} edits running (limit {self.max_in_flight} at once).",
                fix="Wait for one to finish or cancel one, then try again.")
        now = self._clock()
        with self._lock:
            starts = self._starts[owner]
            while starts and now - starts[0] >= WINDOW_S:
                starts.popleft()
            if len(starts) >= self.per_hour:
                wait_min = math.ceil((WINDOW_S - (now - starts[0])) / 60)
                raise RateLimitError(
                    f"You have started {len(starts)} edits in the last hour (limit {self.per_hour}).",
                    fix=f"Try again in {wait_min} min.")
            starts.append(now)
