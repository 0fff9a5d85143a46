"""Engine slots: a cancel ends a wait for a slot at once, and never costs the pool a slot."""

from __future__ import annotations

import asyncio

import pytest

from components.engines.base import CancelToken
from components.errors import JobCancelled
from components.jobs.slots import EngineSlots, FairPool


def test_a_cancel_ends_the_wait_and_the_slot_stays_in_the_pool():
    async def scenario() -> None:
        slots = EngineSlots({"local": 1})
        holder_in, holder_out = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with slots.hold("local", CancelToken()):
                holder_in.set()
                await holder_out.wait()

        holding = asyncio.ensure_future(holder())
        await holder_in.wait()
        token = CancelToken()
        waiting = asyncio.ensure_future(slots.hold("local", token).__aenter__())
        await asyncio.sleep(0)  # let it start waiting (it cannot get the slot: the holder has it)
        assert not waiting.done()
        token.cancel()  # from the same thread here; the UI cancels from another, the path is the same
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(waiting, 5)
        holder_out.set()
        await holding
        # The pool still has its one slot: the next job gets it without waiting.
        async with slots.hold("local", CancelToken()):
            pass

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_an_already_cancelled_job_never_takes_a_slot():
    async def scenario() -> None:
        slots = EngineSlots({"fal": 1})
        token = CancelToken()
        token.cancel()
        with pytest.raises(JobCancelled):
            async with slots.hold("fal", token):
                raise AssertionError("the body must not run")
        async with slots.hold("fal", CancelToken()):
            pass

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_an_unknown_concurrency_key_is_a_programming_error():
    async def scenario() -> None:
        with pytest.raises(ValueError, match="gpu"):
            async with EngineSlots({"fal": 1}).hold("gpu", CancelToken()):
                pass

    asyncio.run(scenario())


def test_a_freed_slot_goes_to_the_owners_in_line_in_turn():
    """One owner queues five jobs, then two newcomers one each: the slots go round the owners, so
    each newcomer waits for one job of the first owner's, not for five."""
    async def scenario() -> list[str]:
        pool = FairPool(1)
        ran: list[str] = []
        gate = asyncio.Event()

        async def job(owner: str, name: str) -> None:
            await pool.acquire(owner, CancelToken())
            try:
                ran.append(name)
                await gate.wait()
            finally:
                pool.release()

        first = asyncio.ensure_future(job("a", "a0"))
        await asyncio.sleep(0)  # a0 holds the slot
        tasks = [asyncio.ensure_future(job("a", f"a{i}")) for i in range(1, 5)]
        await asyncio.sleep(0)
        tasks += [asyncio.ensure_future(job("b", "b1")), asyncio.ensure_future(job("c", "c1"))]
        await asyncio.sleep(0)
        assert pool.waiting() == ["a", "b", "c", "a", "a", "a"]
        gate.set()
        await asyncio.gather(first, *tasks)
        return ran

    assert asyncio.run(scenario()) == ["a0", "a1", "b1", "c1", "a2", "a3", "a4"]


def test_a_cancelled_waiter_gives_up_its_turn_without_losing_the_slot():
    async def scenario() -> None:
        pool = FairPool(1)
        await pool.acquire("a", CancelToken())
        token = CancelToken()
        waiting = asyncio.ensure_future(pool.acquire("b", token))
        await asyncio.sleep(0)
        token.cancel()
        with pytest.raises(JobCancelled):
            await waiting
        assert pool.waiting() == []
        pool.release()
        await asyncio.wait_for(pool.acquire("c", CancelToken()), 1)  # the slot is back in the pool

    asyncio.run(scenario())
