"""Engine slots: a cancel ends a wait for a slot at once, and never costs the pool a slot."""

from __future__ import annotations

import asyncio

import pytest

from components.engines.base import CancelToken
from components.errors import JobCancelled
from components.jobs.slots import EngineSlots


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
