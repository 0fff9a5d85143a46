"""Engine slots: how many jobs of each kind run at once, whose turn is next, and a wait that a
cancel ends.

Each engine names its pool (``Engine.concurrency_key``); config sizes the pools, so fal jobs
(remote waits) can run by the dozen while local renders (CPU work) queue behind one or two. A freed
slot goes to the owners in line in turn (round-robin), not to the oldest waiter: one visitor's
forty queued previews make a newcomer wait for one job per owner ahead, not for forty. A job
waiting for a slot is stopped by the same ``CancelToken`` that stops a running one: the token
wakes the wait instead of the runner cancelling the task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import AsyncIterator

from components.config import Settings
from components.engines.base import CancelToken


class FairPool:
    """``size`` slots, handed out round-robin across owners. Used from one event loop; a cancel
    may come from any thread."""

    def __init__(self, size: int) -> None:
        self._free = size
        # Owners with jobs waiting, in turn order; each owner's own jobs wait in arrival order.
        self._lines: OrderedDict[str, deque[asyncio.Future[bool]]] = OrderedDict()

    def waiting(self) -> list[str]:
        """The owner of each waiting job, in the order the slots would go to them (for tests)."""
        lines = [list(line) for line in self._lines.values()]
        owners = list(self._lines)
        order = []
        for depth in range(max((len(line) for line in lines), default=0)):
            order += [owner for owner, line in zip(owners, lines, strict=True) if depth < len(line)]
        return order

    async def acquire(self, owner: str, cancel: CancelToken) -> None:
        """A slot for ``owner``'s job, or ``JobCancelled`` as soon as ``cancel`` fires."""
        cancel.raise_if_cancelled()
        if self._free > 0 and not self._lines:
            self._free -= 1
            return
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[bool] = loop.create_future()
        self._lines.setdefault(owner, deque()).append(turn)

        def stop_waiting() -> None:
            if not turn.done():
                turn.set_result(False)

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
                loop.call_soon_threadsafe(stop_waiting)

        cancel.on_cancel(wake)
        try:
            granted = await turn
        except BaseException:  # the loop is shutting down: hand back a slot granted in the same turn
            self._leave(owner, turn)
            raise
        if not granted:
            self._leave(owner, turn)
        elif cancel.cancelled:  # both in the same turn: the cancel wins and the slot goes back
            self.release()
        cancel.raise_if_cancelled()

    def release(self) -> None:
        """Give the slot to the next owner in turn, or back to the pool."""
        while self._lines:
            owner, line = next(iter(self._lines.items()))
            turn = line.popleft()
            if line:
                self._lines.move_to_end(owner)
            else:
                del self._lines[owner]
            if not turn.done():
                turn.set_result(True)
                return
        self._free += 1

    def _leave(self, owner: str, turn: asyncio.Future[bool]) -> None:
        if turn.done() and not turn.cancelled() and turn.result():
            self.release()
            return
        line = self._lines.get(owner)
        if line is not None and turn in line:
            line.remove(turn)
            if not line:
                del self._lines[owner]


class EngineSlots:
    def __init__(self, sizes: dict[str, int]) -> None:
        self._pools = {key: FairPool(size) for key, size in sizes.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineSlots:
        return cls({"fal": settings.fal_concurrency, "local": settings.local_concurrency})

    def pool(self, key: str) -> FairPool:
        try:
            return self._pools[key]
        except KeyError:
            raise ValueError(f"no engine slots for concurrency key {key!r}") from None

    @contextlib.asynccontextmanager
    async def hold(self, key: str, cancel: CancelToken, owner: str = "") -> AsyncIterator[None]:
        """Hold a slot of pool ``key`` for ``owner``'s job for the block; raises ``JobCancelled``
        if ``cancel`` fires first (a job still waiting is stopped at once, not when a slot frees)."""
        pool = self.pool(key)
        await pool.acquire(owner, cancel)
        try:
            yield
        finally:
            pool.release()
