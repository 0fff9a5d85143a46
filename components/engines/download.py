"""Streaming the edited clip from fal's CDN to disk: capped, type-checked, retried when cut off.

Results can be hundreds of MB, so the body goes to disk chunk by chunk and the size cap is enforced
while reading (a lying or missing Content-Length cannot fill the disk). A connection dropped
mid-way is retried from the start a few times: the CDN link stays valid, and a half file must
never be shown as a result.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx

from components.atomic import atomic_output
from components.errors import EngineError
from components.units import human_size

log = logging.getLogger(__name__)

ATTEMPTS = 3
_CHUNK = 1 << 20
ACCEPTED_TYPES = ("video/", "application/octet-stream", "binary/octet-stream")


async def download_result(url: str, target: Path, *, max_bytes: int, timeout_s: float = 120.0,
                          request_id: str | None = None,
                          on_progress: Callable[[int, int | None], None] | None = None) -> int:
    """Save ``url`` to ``target``; returns its size. Raises ``EngineError`` with the reason."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=30.0), verify=_tls(),
                                 follow_redirects=True) as client:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with atomic_output(target) as partial:
                    return await _stream(client, url, partial, max_bytes, request_id, on_progress)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                log.warning("result download of request %s broke off (%s), attempt %d/%d",
                            request_id, type(exc).__name__, attempt, ATTEMPTS)
                if attempt == ATTEMPTS:
                    raise EngineError(
                        f"Downloading the edited clip from fal broke off {ATTEMPTS} times "
                        f"({type(exc).__name__}).",
                        fix=_resume_fix(request_id), temporary=True, request_id=request_id) from exc
    raise AssertionError("unreachable: the loop returns or raises")


async def _stream(client: httpx.AsyncClient, url: str, partial: Path, max_bytes: int,
                  request_id: str | None, on_progress: Callable[[int, int | None], None] | None) -> int:
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise EngineError(f"fal's CDN answered HTTP {response.status_code} for the edited clip.",
                              fix=_resume_fix(request_id), temporary=response.status_code >= 500,
                              request_id=request_id)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not content_type.startswith(ACCEPTED_TYPES):
            raise EngineError(f"fal returned {content_type or 'an untyped file'} instead of a video.",
                              fix="Try the edit again; nothing was saved.", request_id=request_id)
        declared = int(response.headers.get("content-length") or 0) or None
        if declared and declared > max_bytes:
            raise _too_big(declared, max_bytes, request_id)
        done = 0
        with partial.open("wb") as fh:
            async for chunk in response.aiter_bytes(_CHUNK):
                done += len(chunk)
                if done > max_bytes:
                    raise _too_big(done, max_bytes, request_id)
                fh.write(chunk)
                if on_progress:
                    on_progress(done, declared)
        return done


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every download: building one loads the CA bundle (tens of ms of CPU),
    which 32 edits finishing together would otherwise pay 32 times."""
    return httpx.create_ssl_context()


def _too_big(size: int, limit: int, request_id: str | None) -> EngineError:
    return EngineError(f"The edited clip is larger than this studio keeps ({human_size(size, limit)}, limit "
                       f"{human_size(limit)}).",
                       fix="Raise STUDIO_MAX_RESULT_MB, or use a shorter clip.", request_id=request_id)


def _resume_fix(request_id: str | None) -> str:
    if request_id:
        return f"The edit itself finished: resume request {request_id} to download it again."
    return "Try again."
