"""Engine slots: how many jobs of each kind run at once, and waiting for one that a cancel ends.

Each engine names its pool (``Engine.concurrency_key``); config sizes the pools, so fal jobs
(remote waits) can run by the dozen while local renders (CPU work) queue behind one or two. A job
waiting for a slot is stopped by the same ``CancelToken`` that stops a running one: the token wakes
the wait instead of the runner cancelling the task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from components.config import Settings
from components.engines.base import CancelToken


class EngineSlots:
    def __init__(self, sizes: dict[str, int]) -> None:
        self._pools = {key: asyncio.Semaphore(size) for key, size in sizes.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineSlots:
        return cls({"fal": settings.fal_concurrency, "local": settings.local_concurrency})

    @contextlib.asynccontextmanager
    async def hold(self, key: str, cancel: CancelToken) -> AsyncIterator[None]:
        """Hold a slot of pool ``key`` for the block; raises ``JobCancelled`` if ``cancel`` fires
        first (a job still waiting is stopped at once, not when a slot frees up)."""
        try:
            pool = self._pools[key]
        except KeyError:
            raise ValueError(f"no engine slots for concurrency key {key!r}") from None
        await acquire_unless_cancelled(pool, cancel)
        try:
            yield
        finally:
            pool.release()


async def acquire_unless_cancelled(pool: asyncio.Semaphore, cancel: CancelToken) -> None:
    """``pool.acquire()``, or ``JobCancelled`` as soon as ``cancel`` fires, whichever comes first."""
    cancel.raise_if_cancelled()
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(woken.set)

    cancel.on_cancel(wake)
    acquiring = asyncio.ensure_future(pool.acquire())
    waking = asyncio.ensure_future(woken.wait())
    try:
        await asyncio.wait({acquiring, waking}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # the loop is shutting down: hand back a slot granted in the same turn
        if acquiring.done() and not acquiring.cancelled():
            pool.release()
        raise
    finally:
        waking.cancel()
        if not acquiring.done():
            acquiring.cancel()  # asyncio.Semaphore passes on a slot it granted to a cancelled waiter
    if acquiring.done() and not acquiring.cancelled():
        if cancel.cancelled:  # both in the same turn: the cancel wins and the slot goes back
            pool.release()
            cancel.raise_if_cancelled()
        return
    cancel.raise_if_cancelled()
