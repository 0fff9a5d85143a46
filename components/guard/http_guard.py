"""ASGI middleware in front of gradio's own routes: what the page never needs is not served, and
nobody fills the disk or the memory through a request.

- ``/gradio_api/deep_link`` writes a session's component values to a file gradio then serves; the
  studio has no deep-link button, so the route answers 404 instead of serialising anyone's state.
- gradio's upload routes (``/gradio_api/upload``, and ``/gradio_api/process_recording``, its
  screen recorder's) take files from anyone. Their bytes and files count against the client
  address's ``WriteAllowance`` as they arrive (each multipart part is a file: gradio stores it as a
  folder and a file), and uploads stop while the disk holding them is nearly full, so one script
  cannot fill the disk, nor its inodes, that every job and upload shares. gradio's
  ``max_file_size`` still caps each file; gradio's ``delete_cache`` and retention clean what was
  stored.
- Every other request's body is read here, up to ``max_body_bytes`` (a settings-sized cap), before
  gradio sees it: ``queue/join`` and the other JSON routes parse any body they are sent in memory,
  so a larger body is answered 413 from its Content-Length before a byte of it is read (or as
  soon as a body without one passes the cap), and gradio never parses nor logs it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from components.guard.write_allowance import WriteAllowance
from components.units import human_size

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ClientAddress = Callable[[dict[str, str], str | None], str]

BLOCKED_PATHS = ("/gradio_api/deep_link",)
UPLOAD_PATHS = ("/gradio_api/upload", "/gradio_api/process_recording")


class GuardMiddleware:
    def __init__(self, app: ASGIApp, *, allowance: WriteAllowance, upload_dir: Path, min_free_bytes: int,
                 max_body_bytes: int, client_address: ClientAddress) -> None:
        self.app = app
        self.allowance = allowance
        self.upload_dir = upload_dir
        self.min_free_bytes = min_free_bytes
        self.max_body_bytes = max_body_bytes
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
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if path in UPLOAD_PATHS and scope.get("method") == "POST":
            await self._upload(scope, receive, send, headers)
            return
        await self._capped(scope, receive, send, headers)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        peer = (scope.get("client") or (None,))[0]
        client = self.client_address(headers, peer)
        if _free_bytes(self.upload_dir) < self.min_free_bytes:
            await _answer(send, 507, "The server's disk is nearly full, so uploads are paused. "
                                     "Try again later.")
            return
        left = self.allowance.left(client)
        declared = _content_length(headers) or 0
        if declared > left.bytes or left.files < 1:
            refusal = self.allowance.refusal(left, n_bytes=declared, files=1 if left.files < 1 else 0)
            await _answer(send, 429, str(refusal))
            return
        parts = _PartCounter(_boundary(headers.get("content-type", "")))
        over = started = False

        async def counted() -> Message:
            nonlocal over
            message = await receive()
            if message["type"] == "http.request" and not over:
                body = message.get("body", b"")
                # A part is a stored file once the delimiter after it arrives (the first opens one).
                if not self.allowance.spend(client, len(body), parts.completed(body)):
                    over = True
            if over:
                return {"type": "http.disconnect"}  # the upload stops here
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception:
            if not over:
                raise  # gradio's own failure, not the stop above
        if over and not started:  # gradio gave up on the cut body: say why, instead of a 500
            await _answer(send, 429, str(self.allowance.refusal(self.allowance.left(client))))

    async def _capped(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        """Pass the request on with its body read here, refusing one over ``max_body_bytes``."""
        declared = _content_length(headers)
        if declared is None and "chunked" not in headers.get("transfer-encoding", "").lower():
            await self.app(scope, receive, send)  # no body
            return
        if declared is not None and declared > self.max_body_bytes:
            await _answer(send, 413, self._too_large(declared))
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body: nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _answer(send, 413, self._too_large(None))
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # later calls wait for the disconnect, as gradio's streams expect

        await self.app(scope, replay, send)

    def _too_large(self, declared: int | None) -> str:
        size = f"is {human_size(declared, self.max_body_bytes)}" if declared is not None else "is larger"
        return (f"This request's body {size}; this server reads at most {human_size(self.max_body_bytes)} "
                "per request (STUDIO_MAX_REQUEST_KB). Send files through the upload route (the page does, "
                "and gradio_client's handle_file), not inside the request.")


class _PartCounter:
    """Counts the parts of a multipart body as it streams past, by its boundary delimiters."""

    def __init__(self, boundary: bytes | None) -> None:
        self.delimiter = b"--" + boundary if boundary else None
        self._tail = b""
        self._seen = 0

    def completed(self, chunk: bytes) -> int:
        """Parts that ``chunk`` completes: each delimiter after the first ends one (the last,
        ``--boundary--``, ends the last part). A body that names no boundary is one file."""
        if self.delimiter is None:
            self.delimiter, self._seen = b"", 1
            return 1
        if not self.delimiter:
            return 0
        data = self._tail + chunk  # a delimiter split across two chunks is found whole here
        found = data.count(self.delimiter)
        # The tail is shorter than a delimiter, so every delimiter found ends in this chunk.
        self._tail = data[-(len(self.delimiter) - 1):]
        before, self._seen = self._seen, self._seen + found
        return max(0, self._seen - 1) - max(0, before - 1)


def _boundary(content_type: str) -> bytes | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').encode("latin-1")
    return None


def _content_length(headers: dict[str, str]) -> int | None:
    raw = headers.get("content-length", "").strip()
    return int(raw) if raw.isdigit() else None


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

