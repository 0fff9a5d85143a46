from __future__ import annotations

import pytest

from components.admission.ratelimit import SessionLimiter
from components.errors import RateLimitError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_hourly_limit_per_owner_with_wait_time():
    clock = Clock()
    limiter = SessionLimiter(per_hour=3, max_in_flight=10, clock=clock)
    for _ in range(3):
        limiter.acquire("alice", in_flight=0)
    limiter.acquire("bob", in_flight=0)  # another session is not affected
    clock.now += 600
    with pytest.raises(RateLimitError) as err:
        limiter.acquire("alice", in_flight=0)
    assert "3 edits in the last hour (limit 3)" in str(err.value)
    assert "Try again in 50 min" in str(err.value)
    clock.now += 3000  # the first start leaves the window
    limiter.acquire("alice", in_flight=0)


def test_in_flight_cap_does_not_consume_the_hourly_budget():
    limiter = SessionLimiter(per_hour=2, max_in_flight=1, clock=Clock())
    with pytest.raises(RateLimitError, match=r"1 edits running \(limit 1 at once\)"):
        limiter.acquire("alice", in_flight=1)
    limiter.acquire("alice", in_flight=0)
    limiter.acquire("alice", in_flight=0)
