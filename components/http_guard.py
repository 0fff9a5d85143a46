"""ASGI middleware in front of gradio's own routes: what the page never needs is not served, and
nobody fills the disk through the upload route.

- ``/gradio_api/deep_link`` writes a session's component values to a file gradio then serves; the
  studio has no deep-link button, so the route answers 404 instead of serialising anyone's state.
- ``/gradio_api/upload`` accepts any number of files from anyone. Each client address gets an
  hourly byte allowance, and uploads stop while the disk holding them is nearly full, so one
  script cannot fill the disk that every job and upload shares. gradio's ``max_file_size`` still
  caps each file; gradio's ``delete_cache`` and retention clean what was stored.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from components.media.limits import human_size as format_size

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ClientAddress = Callable[[dict[str, str], str | None], str]

BLOCKED_PATHS = ("/gradio_api/deep_link",)
UPLOAD_PATH = "/gradio_api/upload"
WINDOW_S = 3600.0


class UploadAllowance:
    """Bytes each client address may upload per rolling hour, counted as they arrive."""

    def __init__(self, bytes_per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.bytes_per_hour = bytes_per_hour
        self._clock = clock
        self._spent: dict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._lock = threading.Lock()

    def left(self, client: str) -> int:
        with self._lock:
            return self.bytes_per_hour - self._total(client)

    def spend(self, client: str, n: int) -> bool:
        """Count ``n`` more bytes; False once the client is over its allowance."""
        with self._lock:
            total = self._total(client) + n
            self._spent[client].append((self._clock(), n))
            return total <= self.bytes_per_hour

    def _total(self, client: str) -> int:
        entries = self._spent[client]
        now = self._clock()
        while entries and now - entries[0][0] >= WINDOW_S:
            entries.popleft()
        return sum(n for _, n in entries)


class GuardMiddleware:
    def __init__(self, app: ASGIApp, *, allowance: UploadAllowance, upload_dir: Path,
                 min_free_bytes: int, client_address: ClientAddress) -> None:
        self.app = app
        self.allowance = allowance
        self.upload_dir = upload_dir
        self.min_free_bytes = min_free_bytes
        self.client_address = client_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "").rstrip("/")
        root = scope.get("root_path", "").rstrip("/")
        if root and path.startswith(root):
            path = path[len(root):]
        if path in BLOCKED_PATHS:
            await _answer(send, 404, "Not served by this app.")
            return
        if path == UPLOAD_PATH and scope.get("method") == "POST":
            await self._upload(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        peer = (scope.get("client") or (None,))[0]
        client = self.client_address(headers, peer)
        if _free_bytes(self.upload_dir) < self.min_free_bytes:
            await _answer(send, 507, "The server's disk is nearly full, so uploads are paused. "
                                     "Try again later.")
            return
        declared = int(headers.get("content-length") or 0)
        if declared > self.allowance.left(client):
            await _answer(send, 429, _over_allowance(self.allowance.bytes_per_hour))
            return
        over = False

        async def counted() -> Message:
            nonlocal over
            message = await receive()
            if (message["type"] == "http.request" and not over
                    and not self.allowance.spend(client, len(message.get("body", b"")))):
                over = True
            if over:
                return {"type": "http.disconnect"}  # the upload stops; gradio discards the part
            return message

        await self.app(scope, counted, send)


def _over_allowance(limit: int) -> str:
    return (f"Uploads from your address passed {format_size(limit)} in the last hour. "
            "Wait a while, or run the studio yourself for larger batches.")


def _free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
