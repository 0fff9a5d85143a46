"""The one sliding window behind every limit: entries leave after the window, and a key whose
entries all left is forgotten, since keys come from clients."""

from __future__ import annotations

from components.admission.ratelimit import SessionLimiter
from components.guard.windows import SlidingWindow


def test_entries_leave_after_the_window_and_say_when_the_next_one_does():
    now = [100.0]
    window: SlidingWindow[int] = SlidingWindow(60, clock=lambda: now[0])
    window.add("a", 1)
    now[0] = 130.0
    window.add("a", 2, count=2)
    assert window.values("a") == [1, 2, 2] and window.wait_s("a") == 30.0
    now[0] = 160.0
    assert window.values("a") == [2, 2] and window.wait_s("a") == 30.0
    now[0] = 190.0
    assert window.entries("a") == [] and window.wait_s("a") == 0.0


def test_a_script_inventing_a_key_per_request_does_not_grow_the_map():
    now = [0.0]
    limiter = SessionLimiter(per_hour=5, max_in_flight=3, clock=lambda: now[0])
    for i in range(1000):
        limiter.acquire(f"owner-{i}", in_flight=0)
    assert len(limiter._starts) == 1000
    now[0] = 3600.0  # an hour on, each key's one start has left: every key is forgotten
    limiter.acquire("newcomer", in_flight=0)
    assert len(limiter._starts) == 1
