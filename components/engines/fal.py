"""Kling O1 on fal through the official async fal_client: upload, submit, follow, download.

Inputs upload concurrently and only once per content (``upload_cache``); the job goes through fal's
queue (not ``run``) so it has a request id from the first second, which the job store keeps: a
restart, a closed tab or a queue timeout can ``resume`` it by id. Status is polled here rather
than through ``subscribe`` so a cancel, a queue timeout and new log lines are noticed between polls.

One ``AsyncClient`` per key and event loop: an AsyncClient caches its httpx client (bound to the
loop that made it) and its CDN token, so it is shared by every edit on that loop and never crosses
loops. The key goes only into that client, never into an env var, a log line or a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import fal_client
from fal_client.client import AsyncRequestHandle, Completed, FalClientHTTPError, InProgress, Queued

from components.config import MODEL_NAME, Settings
from components.engines.base import CancelToken, EditResult, ProgressCallback, ProgressEvent
from components.engines.download import download_result
from components.engines.fal_errors import to_studio_error
from components.engines.upload_cache import UploadCache, file_digest
from components.errors import EngineError, InputError, JobCancelled, MediaError, QueueTimeoutError
from components.jobs.owner_secret import server_secret
from components.media.limits import human_count, human_size
from components.media.probe import probe
from components.request import EditRequest
from components.secret import Secret

log = logging.getLogger(__name__)

# fal deletes our uploads after a day; the cache forgets them a little earlier (upload_cache).
UPLOAD_LIFETIME = "1d"
UPLOAD_LIFETIME_S = 86400
DEFAULT_POLL_S = 0.5
MAX_POLL_S = 2.0
BACKOFF_AFTER_S = 10.0
RESULT_NAME = "edited.mp4"
# After submit the edit is paid for: a passing fal error while watching or fetching it is waited out
# (about half a minute in all) instead of failing a job whose result fal still holds.
PAID_RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0)
NOT_SUBMITTED = "The edit was cancelled before it was submitted to fal, so nothing was charged."

T = TypeVar("T")


@dataclass
class _SharedUpload:
    task: asyncio.Task[str]
    waiters: int = 0


@dataclass
class _LoopState:
    """What may be shared by edits on one event loop: clients per key, uploads in flight."""

    clients: dict[tuple[str, float], fal_client.AsyncClient] = field(default_factory=dict)
    inflight: dict[tuple[str, str], _SharedUpload] = field(default_factory=dict)


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()


def forget_clients() -> None:
    """Drop every cached client, e.g. after fal_client's hosts were moved (tests, a fake server)."""
    _loops.clear()


def _loop_state() -> _LoopState:
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


class FalEngine:
    name = "fal"
    label = f"{MODEL_NAME} via fal"
    concurrency_key = "fal"  # remote waits: a large pool of slots
    can_resume = True  # fal keeps a request by id, so a restart can reattach

    def __init__(self, key: Secret, settings: Settings, *, poll_interval_s: float = DEFAULT_POLL_S,
                 http_timeout_s: float = 120.0, upload_cache: UploadCache | None = None,
                 paid_retry_delays_s: tuple[float, ...] = PAID_RETRY_DELAYS_S) -> None:
        if not key:
            raise ValueError("FalEngine needs a fal key; use the local engine without one")
        self._key = key
        self._settings = settings
        self._poll_s = poll_interval_s
        self._http_timeout_s = http_timeout_s
        self._paid_retry_delays_s = paid_retry_delays_s
        self._cache = upload_cache or UploadCache.shared(settings.data_dir / "upload_cache.json")
        # The cache file is on disk: its entries name the key only through an id keyed with the data
        # folder's secret, never through a plain hash of the key.
        self._cache_id = key.keyed_fingerprint(server_secret(settings.data_dir))
        self.stats = UploadStats()

    def __repr__(self) -> str:
        return f"FalEngine(key={self._key!r})"

    # ------------------------------------------------------------------ public
    async def edit(self, request: EditRequest, workdir: Path, on_event: ProgressCallback,
                   cancel: CancelToken) -> EditResult:
        run = _Run(on_event)
        tier = self._settings.tier(request.model)
        if tier is None:  # the pre-flight refuses it first; never submit to an endpoint we did not price
            raise InputError(f"“{request.model}” is not a model this studio runs.", field="model")
        run.emit("preparing", f"Preparing the upload for {tier.name}", fraction=0.0)
        if cancel.cancelled:
            raise JobCancelled(NOT_SUBMITTED)
        client = self._client()
        urls, notes = await self._upload_all(client, request, run, cancel)
        run.timings["upload"] = run.lap()
        if cancel.cancelled:  # the last moment a cancel costs nothing
            raise JobCancelled(NOT_SUBMITTED)
        arguments = request.to_fal_arguments(urls)
        handle = await self._call(client.submit(request.model, arguments=arguments),
                                  "submitting the job")
        log.info("fal request %s submitted", handle.request_id)
        run.emit("submitted", f"Submitted to fal as request {handle.request_id}", fraction=0.3,
                 request_id=handle.request_id)
        result = await self._follow(handle, workdir, run, cancel)
        result.arguments = arguments
        result.notes[:0] = notes
        return result

    async def resume(self, request_id: str, workdir: Path, on_event: ProgressCallback,
                     cancel: CancelToken) -> EditResult:
        """Reattach to an earlier request by id (another engine object, another process even). The
        default tier's id serves both tiers: fal's request URLs keep only the app ("fal-ai/kling-video")."""
        run = _Run(on_event)
        client = self._client()
        handle = await self._call(client.get_handle(self._settings.model_id, request_id.strip()),
                                  "reattaching to the job")
        run.emit("submitted", f"Reattached to fal request {handle.request_id}", fraction=0.3,
                 request_id=handle.request_id)
        result = await self._follow(handle, workdir, run, cancel)
        result.notes.insert(0, f"Resumed fal request {handle.request_id}.")
        return result

    # ------------------------------------------------------------------ uploads
    def _client(self) -> fal_client.AsyncClient:
        state = _loop_state()
        slot = (self._key.fingerprint, self._http_timeout_s)
        if slot not in state.clients:
            state.clients[slot] = fal_client.AsyncClient(key=self._key.reveal(),
                                                         default_timeout=self._http_timeout_s)
        return state.clients[slot]

    async def _upload_all(self, client: fal_client.AsyncClient, request: EditRequest, run: _Run,
                          cancel: CancelToken) -> tuple[dict[Path, str], list[str]]:
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
        run.emit("uploading", f"Uploading {human_count(len(files), 'file')}, {_mb(total)}", fraction=0.0,
                 bytes_done=0, bytes_total=total)

        async def one(path: Path) -> tuple[Path, str]:
            nonlocal done, sent
            url, uploaded = await self._upload_once(client, path, sizes[path])
            done += sizes[path]
            sent += sizes[path] if uploaded else 0
            run.emit("uploading", f"Uploaded {_mb(done)} / {_mb(total)}", fraction=0.25 * done / (total or 1),
                     bytes_done=done, bytes_total=total)
            return path, url

        pairs = await self._until_cancelled([one(p) for p in files], cancel)
        reused = f"; {_mb(total - sent)} reused from earlier uploads" if sent < total else ""
        return dict(pairs), [f"Uploaded {_mb(sent)} to fal{reused}."]

    async def _upload_once(self, client: fal_client.AsyncClient, path: Path, size: int) -> tuple[str, bool]:
        """The URL of ``path``'s content at fal and whether this call sent it: cached, joined with an
        identical upload in flight, or uploaded now (fal_client sends big files in parts)."""
        digest = await asyncio.to_thread(file_digest, path)
        slot = (self._cache_id, digest)
        cached = self._cache.get(*slot)
        if cached:
            self.stats.cache_hits += 1
            return cached, False
        inflight = _loop_state().inflight
        shared = inflight.get(slot)
        leader = shared is None
        if shared is None:
            shared = inflight[slot] = _SharedUpload(asyncio.ensure_future(
                self._upload_and_remember(client, path, digest, size)))
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

    async def _upload_and_remember(self, client: fal_client.AsyncClient, path: Path, digest: str,
                                   size: int) -> str:
        url = await self._call(client.upload_file(
            path, lifecycle=fal_client.StorageSettings(expires_in=UPLOAD_LIFETIME)), f"uploading {path.name}")
        self._cache.put(self._cache_id, digest, url, UPLOAD_LIFETIME_S)
        self.stats.bytes_uploaded += size
        self.stats.files_uploaded += 1
        return url

    # ------------------------------------------------------------------ queue
    async def _follow(self, handle: AsyncRequestHandle, workdir: Path, run: _Run,
                      cancel: CancelToken) -> EditResult:
        rid = handle.request_id
        run.request_id = rid
        notes: list[str] = []
        seen_logs = 0
        last_line = f"{MODEL_NAME} is editing the clip"
        queued_since = time.monotonic()
        running = cancel_refused = False
        woken = _woken_by(cancel)
        delay, last_seen = self._poll_s, None
        slowest = max(self._poll_s, min(MAX_POLL_S, 4 * self._poll_s))
        while True:
            if cancel.cancelled and not cancel_refused:
                if await self._cancel_remote(handle):
                    raise JobCancelled(f"The edit was cancelled; fal request {rid} was told to stop.")
                cancel_refused = True
                notes.append("The cancel came too late: fal had already finished, so the result is shown "
                             "(and was charged).")
            status = await self._call_paid(lambda: handle.status(with_logs=True), "checking the job", rid)
            if isinstance(status, Queued):
                waited = time.monotonic() - queued_since
                if waited > self._settings.queue_timeout_s:
                    raise QueueTimeoutError(
                        f"The fal job is still queued after {_duration(waited)}; it may still finish: "
                        f"resume it later with request id {rid}.", temporary=True, request_id=rid)
                ahead = "next in line" if not status.position else f"{status.position} ahead"
                run.emit("queued", f"Queued at fal: {ahead}", fraction=0.3,
                         queue_position=status.position, request_id=rid)
            else:
                if not running:
                    running = True
                    run.timings["queue"] = run.lap()
                logs = [str(item.get("message", "")) for item in (status.logs or [])]
                new, seen_logs = logs[seen_logs:], len(logs)
                last_line = new[-1] if new else last_line
                if isinstance(status, InProgress):
                    run.emit("running", last_line, fraction=0.5, logs=tuple(new), request_id=rid)
                if isinstance(status, Completed):
                    if new:
                        run.emit("running", last_line, fraction=0.85, logs=tuple(new), request_id=rid)
                    if status.error_type == "client_cancelled":
                        raise JobCancelled(f"fal request {rid} was cancelled.")
                    break
            # After its first seconds, a job that shows nothing new is asked less often (up to 4
            # polls' time, at most 2 s): hundreds of jobs waiting at fal must not cost hundreds of
            # requests a second, and a short job is not made to wait for its result.
            seen = (type(status).__name__, getattr(status, "position", None), seen_logs)
            settled = seen == last_seen and time.monotonic() - queued_since > BACKOFF_AFTER_S
            delay = min(delay * 1.5, slowest) if settled else self._poll_s
            last_seen = seen
            if cancel.cancelled:  # a cancel fal refused: wait for its end like any poll
                await asyncio.sleep(delay)
            else:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(woken.wait(), delay)
        run.timings["run"] = run.lap()
        output = await self._call_paid(handle.get, "fetching the result", rid)
        result = await self._download(output, workdir, run, rid)
        result.notes.extend(notes)
        return result

    async def _cancel_remote(self, handle: AsyncRequestHandle) -> bool:
        """Tell fal to stop; False when it had already finished (a 400 ALREADY_COMPLETED)."""
        try:
            await handle.cancel()
        except FalClientHTTPError as exc:
            if exc.status_code == 400:
                return False
            raise to_studio_error(exc, self._settings, self._key, during="cancelling the job",
                                  request_id=handle.request_id) from exc
        except Exception as exc:
            raise to_studio_error(exc, self._settings, self._key, during="cancelling the job",
                                  request_id=handle.request_id) from exc
        log.info("fal request %s cancelled", handle.request_id)
        return True

    # ------------------------------------------------------------------ result
    async def _download(self, output: Any, workdir: Path, run: _Run, rid: str) -> EditResult:
        video = output.get("video") if isinstance(output, dict) else None
        url = video.get("url") if isinstance(video, dict) else None
        content_type = str(video.get("content_type") or "video/mp4") if isinstance(video, dict) else ""
        if not url or not content_type.startswith("video/"):
            raise EngineError(f"fal finished request {rid} but returned no video"
                              + (f" (got {content_type})." if url else "."),
                              fix="Try the edit again; if it repeats, report the request id to fal.",
                              request_id=rid)
        target = Path(workdir) / RESULT_NAME
        size_hint = video.get("file_size") if isinstance(video.get("file_size"), int) else None

        def progress(done: int, total: int | None) -> None:
            total = total or size_hint
            of = f" / {_mb(total)}" if total else ""
            run.emit("downloading", f"Downloading the result, {_mb(done)}{of}",
                     fraction=0.9 + 0.1 * (done / total if total else 0), bytes_done=done,
                     bytes_total=total, request_id=rid)

        run.emit("downloading", "Downloading the result", fraction=0.9, request_id=rid)
        await download_result(url, target, max_bytes=self._settings.max_result_bytes,
                              timeout_s=self._http_timeout_s, request_id=rid, on_progress=progress)
        try:
            info = await asyncio.to_thread(probe, target)
        except MediaError as exc:
            target.unlink(missing_ok=True)
            raise EngineError(f"fal's result for request {rid} is not a playable video ({exc.message})",
                              fix=f"Resume request {rid} to download it again, or run the edit again.",
                              temporary=True, request_id=rid) from exc
        run.timings["download"] = run.lap()
        run.emit("done", f"Done: {info.describe()}", fraction=1.0, request_id=rid)
        return EditResult(video=target, engine=self.name, request_id=rid, remote_url=url,
                          timings=dict(run.timings), notes=[])

    # ------------------------------------------------------------------ helpers
    async def _call(self, awaitable: Awaitable[T], during: str, request_id: str | None = None) -> T:
        """Await a fal_client call, turning its exceptions into the user's sentence."""
        try:
            return await awaitable
        except (asyncio.CancelledError, JobCancelled):
            raise
        except Exception as exc:
            error = to_studio_error(exc, self._settings, self._key, during=during, request_id=request_id)
            log.warning("fal %s failed: %s", during, error)
            raise error from exc

    async def _call_paid(self, make: Callable[[], Awaitable[T]], during: str, request_id: str) -> T:
        """``_call`` for a submitted job: temporary failures are retried before they end the job."""
        for delay in self._paid_retry_delays_s:
            try:
                return await self._call(make(), during, request_id)
            except EngineError as error:
                if not error.temporary:
                    raise
                log.info("fal %s for %s failed for now; retrying in %.0f s", during, request_id, delay)
                await asyncio.sleep(delay)
        return await self._call(make(), during, request_id)

    async def _until_cancelled(self, coros: list[Awaitable[T]], cancel: CancelToken) -> list[T]:
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


class _Run:
    """One edit's clock and event sink: every event carries the elapsed time and the request id."""

    def __init__(self, on_event: ProgressCallback) -> None:
        self._on_event = on_event
        self._start = self._last = time.monotonic()
        self.timings: dict[str, float] = {}
        self.request_id: str | None = None

    def lap(self) -> float:
        now = time.monotonic()
        spent, self._last = now - self._last, now
        return round(spent, 3)

    def emit(self, phase: Any, message: str, **fields: Any) -> None:
        fields.setdefault("request_id", self.request_id)
        self._on_event(ProgressEvent(phase=phase, message=message,
                                     elapsed=round(time.monotonic() - self._start, 3), **fields))


def _mb(size: int | float | None) -> str:
    return human_size(int(size or 0))


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def _woken_by(cancel: CancelToken) -> asyncio.Event:
    """An event set (on this loop) the moment ``cancel`` fires, from whichever thread: a poll's
    wait ends at once instead of polling the token."""
    loop = asyncio.get_running_loop()
    event = asyncio.Event()

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(event.set)

    cancel.on_cancel(wake)
    return event
