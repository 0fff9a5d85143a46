"""What each key did in the last ``seconds``: the one mechanism behind every per-session,
per-owner and per-address limit.

Keys come from clients (owner ids, session ids, addresses), so a key whose window has emptied is
forgotten on the next look: a script that invents a key per request cannot grow the map.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SlidingWindow(Generic[T]):
    """Entries ``(at, value)`` per key over the last ``seconds``. Thread-safe; callers that check
    and then add as one step hold ``lock`` around both."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic, *,
                 bucket_s: float = 0.0, merge: Callable[[T, T], T] | None = None) -> None:
        """With ``bucket_s``, an entry added within that long of the key's newest one is ``merge``d
        into it: a key holds at most ``seconds / bucket_s`` entries however often it adds (an
        upload counted chunk by chunk)."""
        self.seconds = seconds
        self.clock = clock
        self._bucket_s = bucket_s
        self._merge = merge
        self.lock = threading.RLock()
        self._entries: dict[str, deque[tuple[float, T]]] = {}

    def entries(self, key: str) -> list[tuple[float, T]]:
        """The key's entries still inside the window, oldest first."""
        with self.lock:
            return list(self._pruned(key, self.clock()))

    def values(self, key: str) -> list[T]:
        return [value for _, value in self.entries(key)]

    def add(self, key: str, value: T, count: int = 1) -> None:
        with self.lock:
            now = self.clock()
            found = self._entries.setdefault(key, deque())
            if self._merge is not None and found and now - found[-1][0] < self._bucket_s:
                at, last = found.pop()
                for _ in range(count):
                    last = self._merge(last, value)
                found.append((at, last))
                return
            found.extend([(now, value)] * count)

    def wait_s(self, key: str) -> float:
        """Seconds until the key's oldest entry leaves the window (0 when it has none)."""
        with self.lock:
            now = self.clock()
            found = self._pruned(key, now)
            return max(0.0, self.seconds - (now - found[0][0])) if found else 0.0

    def __len__(self) -> int:
        """Keys with entries (for tests: emptied keys are forgotten)."""
        with self.lock:
            now = self.clock()
            for key in list(self._entries):
                self._pruned(key, now)
            return len(self._entries)

    def _pruned(self, key: str, now: float) -> deque[tuple[float, T]]:
        found = self._entries.get(key)
        if found is None:
            return deque()
        while found and now - found[0][0] >= self.seconds:
            found.popleft()
        if not found:
            del self._entries[key]
        return found
