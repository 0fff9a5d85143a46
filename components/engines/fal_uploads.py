"""fal uploads: each input sent once per content and cleaned as it may leave the studio.

A clip goes remuxed without its metadata (``media.scrub``), a picture upright and without its EXIF
(``edit.images.normalize_image``). An upload is cached (``upload_cache``, keyed by the source's
digest and the cleaning's version) and shared with an identical upload already in flight on the
same loop: one edit's cancel stops it only when no other edit waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import fal_client

from components.digest import file_digest
from components.edit.images import normalize_image
from components.edit.request import EditRequest
from components.engines.base import CancelToken
from components.engines.upload_cache import UploadCache
from components.errors import JobCancelled, MediaError
from components.media.scrub import scrubbed
from components.units import human_count, human_size

T = TypeVar("T")
# fal deletes our uploads after a day; the cache forgets them a little earlier (upload_cache).
UPLOAD_LIFETIME = "1d"
UPLOAD_LIFETIME_S = 86400
# (source, folder) -> the file to upload in its place, made in ``folder`` (or the source itself).
Clean = Callable[[Path, Path], Path]
CLEANED = "scrubbed-v1"  # what an upload cache entry's file went through before it was sent
# (a call to fal, what it was doing) -> its result, fal's errors as the studio's sentences
Call = Callable[[Awaitable[Any], str], Awaitable[Any]]
NOT_SUBMITTED = "The edit was cancelled before it was submitted to fal, so nothing was charged."


@dataclass
class _SharedUpload:
    task: asyncio.Task[str]
    waiters: int = 0


@dataclass
class _LoopState:
    """What may be shared by edits on one event loop: clients per key, uploads in flight."""

    clients: dict[tuple[str, float], fal_client.AsyncClient] = field(default_factory=dict)
    # Requests each client has open at once (``FalEngine._call``), beside the client they gate.
    gates: dict[tuple[str, float], asyncio.Semaphore] = field(default_factory=dict)
    inflight: dict[tuple[str, str], _SharedUpload] = field(default_factory=dict)


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()


def forget_clients() -> None:
    """Drop every cached client, e.g. after fal_client's hosts were moved (tests, a fake server)."""
    _loops.clear()


def loop_state() -> _LoopState:
    loop = asyncio.get_running_loop()
    state = _loops.get(loop)
    if state is None:
        state = _loops[loop] = _LoopState()
    return state


@dataclass
class UploadStats:
    """Counters for tests and the benchmark: what this engine really sent."""

    bytes_uploaded: int = 0
    files_uploaded: int = 0
    cache_hits: int = 0


class Uploads:
    """One engine's uploads: its cache entries (named by ``cache_id``) and what it really sent."""

    def __init__(self, cache: UploadCache, cache_id: str, call: Call) -> None:
        self._cache = cache
        self._cache_id = cache_id
        self._call = call
        self.stats = UploadStats()

    async def all(self, client: fal_client.AsyncClient, request: EditRequest, emit: Callable[..., None],
                  cancel: CancelToken) -> tuple[dict[Path, str], list[str]]:
        """Every input's URL at fal, and a note of what was sent and what was reused."""
        files = list(dict.fromkeys(request.files()))  # one upload per path, order kept
        sizes: dict[Path, int] = {}
        for path in files:
            try:
                sizes[path] = path.stat().st_size
            except OSError as exc:
                raise MediaError(f"{path.name} can no longer be read ({exc.strerror}).",
                                 fix="Add the file again; uploads are cleaned up after a while.",
                                 field="video" if path == request.video else "references") from None
        total = sum(sizes.values())
        done = sent = 0
        emit("uploading", f"Uploading {human_count(len(files), 'file')}, {human_size(total)}", fraction=0.0,
                 bytes_done=0, bytes_total=total)

        async def one(path: Path) -> tuple[Path, str]:
            nonlocal done, sent
            clean = scrubbed if path == request.video else normalize_image
            url, uploaded = await self._once(client, path, clean)
            done += sizes[path]
            sent += sizes[path] if uploaded else 0
            emit("uploading", f"Uploaded {human_size(done)} / {human_size(total)}",
                     fraction=0.25 * done / (total or 1), bytes_done=done, bytes_total=total)
            return path, url

        pairs = await until_cancelled([one(p) for p in files], cancel)
        reused = f"; {human_size(total - sent)} reused from earlier uploads" if sent < total else ""
        return dict(pairs), [f"Uploaded {human_size(sent)} to fal{reused}."]

    async def _once(self, client: fal_client.AsyncClient, path: Path, clean: Clean) -> tuple[str, bool]:
        """The URL of ``path``'s content at fal and whether this call sent it: cached, joined with an
        identical upload in flight, or uploaded now as ``clean`` makes it (fal_client sends big files
        in parts). Keyed by the source's digest (hashed once per file), with the cleaning's version:
        an entry from before uploads were cleaned is never reused."""
        digest = await asyncio.to_thread(file_digest, path)
        slot = (self._cache_id, f"{digest}:{CLEANED}")
        cached = self._cache.get(*slot)
        if cached:
            self.stats.cache_hits += 1
            return cached, False
        inflight = loop_state().inflight
        shared = inflight.get(slot)
        leader = shared is None
        if shared is None:
            shared = inflight[slot] = _SharedUpload(asyncio.ensure_future(
                self._send(client, path, slot[1], clean)))
            shared.task.add_done_callback(lambda _: inflight.pop(slot, None))
        else:
            self.stats.cache_hits += 1
        # The upload is shared: one edit's cancel must not fail the others waiting for it; it stops
        # only when nobody waits any more.
        shared.waiters += 1
        try:
            return await asyncio.shield(shared.task), leader
        finally:
            shared.waiters -= 1
            if shared.waiters == 0 and not shared.task.done():
                shared.task.cancel()

    async def _send(self, client: fal_client.AsyncClient, path: Path, key: str, clean: Clean) -> str:
        with tempfile.TemporaryDirectory(prefix="fal-upload-") as folder:  # the clean copy lives as
            sent = await asyncio.to_thread(clean, path, Path(folder))  # long as its upload
            url = await self._call(client.upload_file(
                sent, lifecycle=fal_client.StorageSettings(expires_in=UPLOAD_LIFETIME)),
                f"uploading {path.name}")
            self.stats.bytes_uploaded += sent.stat().st_size
        self._cache.put(self._cache_id, key, url, UPLOAD_LIFETIME_S)
        self.stats.files_uploaded += 1
        return url


async def until_cancelled(coros: list[Awaitable[T]], cancel: CancelToken) -> list[T]:
    """Run ``coros`` together; a cancel stops them all and raises ``JobCancelled``."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        while True:
            done, pending = await asyncio.wait(tasks, timeout=0.05, return_when=asyncio.FIRST_EXCEPTION)
            failed = next((t for t in done if t.exception() is not None), None)
            if failed is not None:
                raise failed.exception()  # type: ignore[misc]
            if not pending:
                return [t.result() for t in tasks]
            if cancel.cancelled:
                raise JobCancelled(NOT_SUBMITTED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
