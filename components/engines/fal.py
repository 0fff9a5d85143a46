"""Kling O1 on fal through the official async fal_client: upload, submit, follow, download.

Inputs upload concurrently and only once per content (``upload_cache``), each as it may leave the
studio: the clip remuxed without its metadata (``media.scrub``), a picture upright and without its
EXIF (``images.normalize_image``); and the result is remuxed so on download. The job goes through fal's
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
import inspect
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import fal_client
from fal_client.client import AsyncRequestHandle, Completed, FalClientHTTPError, InProgress, Queued

from components.config import MODEL_NAME, Settings
from components.edit.request import EditRequest
from components.engines.base import CancelToken, EditResult, ProgressCallback, ProgressEvent
from components.engines.download import download_result
from components.engines.fal_errors import to_studio_error
from components.engines.fal_uploads import NOT_SUBMITTED, Uploads, UploadStats, loop_state
from components.engines.upload_cache import UploadCache
from components.errors import EngineError, InputError, JobCancelled, MediaError, QueueTimeoutError
from components.guard.owner_secret import server_secret
from components.media.probe import probe
from components.media.scrub import scrubbed
from components.secret import Secret
from components.units import human_size

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 0.5
# A job that shows nothing new is polled less often as it ages: up to a quarter of its age in
# seconds times the base interval, at most MAX_POLL_FACTOR times it (8 s at fal's 0.5 s).
MAX_POLL_FACTOR = 16.0
BACKOFF_AFTER_S = 10.0
RESULT_NAME = "edited.mp4"
# After submit the edit is paid for: a passing fal error while watching or fetching it is waited out
# (about half a minute in all) instead of failing a job whose result fal still holds.
PAID_RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0)
# fal_client's AsyncClient has one httpx pool (default limits: 100 connections, 20 kept alive), and
# httpcore matches every queued request against every connection each time one is sent or done:
# with hundreds of jobs polling, requests queued in the pool cost time quadratic in their number
# (a third of the app at 500 jobs, bench_capacity). Waiting here instead costs nothing, and within the
# kept-alive connections nothing reconnects.
FAL_REQUESTS_AT_ONCE = 20

T = TypeVar("T")


class FalEngine:
    name = "fal"
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
        cache = upload_cache or UploadCache.shared(settings.data_dir / "upload_cache.json")
        # The cache file is on disk: its entries name the key only through an id keyed with the data
        # folder's secret, never through a plain hash of the key.
        self._uploads = Uploads(cache, key.keyed_fingerprint(server_secret(settings.data_dir)), self._call)

    @property
    def stats(self) -> UploadStats:
        """What this engine really sent (for tests and the benchmark)."""
        return self._uploads.stats

    def __repr__(self) -> str:
        return f"FalEngine(key={self._key!r})"

    # ------------------------------------------------------------------ public
    def check(self, request: EditRequest) -> None:
        """Nothing beyond the pre-flight: fal's own refusals need the request sent."""

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
        urls, notes = await self._uploads.all(client, request, run.emit, cancel)
        run.timings["upload"] = run.lap()
        if cancel.cancelled:  # the last moment a cancel costs nothing
            raise JobCancelled(NOT_SUBMITTED)
        arguments = request.to_fal_arguments(urls)
        handle = await self._call(client.submit(request.model, arguments=arguments),
                                  "submitting the job", pooled=True)
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
        state = loop_state()
        slot = self._slot()
        if slot not in state.clients:
            state.clients[slot] = fal_client.AsyncClient(key=self._key.reveal(),
                                                         default_timeout=self._http_timeout_s)
        return state.clients[slot]

    def _slot(self) -> tuple[str, float]:
        return self._key.fingerprint, self._http_timeout_s

    def _gate(self) -> asyncio.Semaphore:
        """At most FAL_REQUESTS_AT_ONCE requests open on this key's client (see there why)."""
        gates = loop_state().gates
        slot = self._slot()
        if slot not in gates:
            gates[slot] = asyncio.Semaphore(FAL_REQUESTS_AT_ONCE)
        return gates[slot]

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
            # After its first seconds, a job that shows nothing new is asked less often, the older it
            # is (a multi-minute edit is told done a few seconds late at most): each poll costs the
            # process a request, and hundreds of jobs waiting at fal must not cost hundreds a
            # second (bench_capacity: polling was 30% of the app at 200 jobs polled every 2 s).
            seen = (type(status).__name__, getattr(status, "position", None), seen_logs)
            age = time.monotonic() - queued_since
            settled = seen == last_seen and age > BACKOFF_AFTER_S
            slowest = self._poll_s * min(MAX_POLL_FACTOR, max(4.0, age / 4))
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
            of = f" / {human_size(total)}" if total else ""
            run.emit("downloading", f"Downloading the result, {human_size(done)}{of}",
                     fraction=0.9 + 0.1 * (done / total if total else 0), bytes_done=done,
                     bytes_total=total, request_id=rid)

        run.emit("downloading", "Downloading the result", fraction=0.9, request_id=rid)
        await download_result(url, target, max_bytes=self._settings.max_result_bytes,
                              timeout_s=self._http_timeout_s, request_id=rid, on_progress=progress)
        try:
            # What fal returns is downloaded, shared and played as it may leave: without metadata.
            with tempfile.TemporaryDirectory(dir=workdir) as folder:
                os.replace(await asyncio.to_thread(scrubbed, target, Path(folder)), target)
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
    async def _call(self, awaitable: Awaitable[T], during: str, request_id: str | None = None, *,
                    pooled: bool = False) -> T:
        """Await a fal_client call, turning its exceptions into the user's sentence. A ``pooled``
        call goes through the key's shared httpx client (queue calls; uploads have clients of their
        own), so it waits for a place at ``_gate`` first."""
        try:
            async with self._gate() if pooled else contextlib.nullcontext():
                return await awaitable
        except (asyncio.CancelledError, JobCancelled):
            if inspect.iscoroutine(awaitable):  # cancelled at the gate: it never ran, nor will it
                awaitable.close()
            raise
        except Exception as exc:
            error = to_studio_error(exc, self._settings, self._key, during=during, request_id=request_id)
            log.warning("fal %s failed: %s", during, error)
            raise error from exc

    async def _call_paid(self, make: Callable[[], Awaitable[T]], during: str, request_id: str) -> T:
        """``_call`` for a submitted job: temporary failures are retried before they end the job."""
        for delay in self._paid_retry_delays_s:
            try:
                return await self._call(make(), during, request_id, pooled=True)
            except EngineError as error:
                if not error.temporary:
                    raise
                log.info("fal %s for %s failed for now; retrying in %.0f s", during, request_id, delay)
                await asyncio.sleep(delay)
        return await self._call(make(), during, request_id, pooled=True)

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
