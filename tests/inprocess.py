"""The studio's real app inside the test process: ``app.create_app`` and ``app.launch`` as app.py runs
them, with folders of its own, for tests that drive gradio's routes without starting a subprocess.

A test reaches it through its ASGI app (httpx.ASGITransport: no socket, and a request's body is
pulled only as the app reads it) or over loopback (gradio's queue streams its events over a real
connection). ``call`` runs one event through the queue as the page does, with any data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest

import app
from components.config import Settings
from tests.e2e.app_server import free_port
from tests.e2e.page_protocol import Page

CALL_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class InProcess:
    url: str  # http://127.0.0.1:<port>/
    asgi: Any  # gradio's FastAPI app, with the studio's middleware and routes
    studio: app.Studio
    settings: Settings
    uploads: Path  # gradio's upload and cache folder

    def client(self, address: str = "198.51.100.1", **kwargs: Any) -> httpx.AsyncClient:
        """A client at ``address``: the transport's peer is loopback, a trusted proxy, so the
        forwarded address is the one counted (as behind a Space's proxy)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.asgi), base_url="http://studio",
                                 headers={"X-Forwarded-For": address}, timeout=60, **kwargs)

    def fn_index(self, name: str) -> list[int]:
        """The ids of the events whose handler is ``name`` (a function's ``__name__``)."""
        return [i for i, fn in self.studio.demo.fns.items() if getattr(fn.fn, "__name__", "") == name]


@contextmanager
def running_studio(root: Path, **overrides: Any) -> Iterator[InProcess]:
    """The studio on loopback with its data, scratch and gradio folders under ``root`` (``overrides``
    are settings, a folder among them too)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRADIO_TEMP_DIR", str(root / "gradio"))
        folders = {"data_dir": root / "data", "scratch_dir": root / "scratch"}
        settings = replace(Settings(), **{**folders, **overrides})
        built = app.create_app(settings)
        port = free_port()
        app.launch(built, settings, prevent_thread_lock=True, quiet=True, server_name="127.0.0.1",
                   server_port=port)
        try:
            yield InProcess(f"http://127.0.0.1:{port}/", built.demo.app, built, settings, root / "gradio")
        finally:
            built.demo.close()
            built.runner.close()


@asynccontextmanager
async def asgi_page(settings: Settings) -> AsyncIterator[tuple[Page, httpx.AsyncClient]]:
    """The page as a browser loads it (its ``/config``) and a client to send its events, both
    through the ASGI app alone: no server, no queue worker thread."""
    built = app.create_app(settings)
    try:
        transport = httpx.ASGITransport(app=gr.routes.App.create_app(built.demo))
        async with httpx.AsyncClient(transport=transport, base_url="http://studio/") as http:
            yield await Page.load(http), http
    finally:
        built.runner.close()


def call(url: str, fn_index: int, data: list, *, session: str | None = None,
         headers: dict[str, str] | None = None, event_data: Any = None) -> dict:
    """Run one event through gradio's queue as the page does; its ``process_completed`` message."""
    session = session or uuid.uuid4().hex[:11]
    with httpx.Client(base_url=url, timeout=CALL_TIMEOUT_S, trust_env=False, headers=headers) as http:
        joined = http.post("gradio_api/queue/join", json={"data": data, "fn_index": fn_index,
                                                          "session_hash": session, "event_data": event_data})
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                    return message
    raise AssertionError(f"event {fn_index} never completed")
