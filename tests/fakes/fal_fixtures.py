"""Start the fake fal server and point the real fal_client at it (pytest-free, for tests and benches).

fal_client reads its host constants at call time, so moving them is enough; production code never
does this. ``_get_retry_delay`` is zeroed so the client's own retries (up to 10 tries) cost no sleep.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fal_client.client as fal_http
import httpx

from components.edit.request import EditRequest, Element
from components.engines import fal_uploads
from components.engines.base import ProgressEvent
from tests.fakes.fal_server import FakeFal
from tests.mediagen import make_clip, make_image

_MOVED = ("QUEUE_URL_FORMAT", "RUN_URL_FORMAT", "REST_URL", "CDN_URL", "_get_retry_delay")


def point_fal_client_at(url: str) -> Callable[[], None]:
    """Send every fal_client call to ``url``; returns the function that restores the client."""
    saved = {name: getattr(fal_http, name) for name in _MOVED}
    base = url.rstrip("/")
    fal_http.QUEUE_URL_FORMAT = base + "/"
    fal_http.RUN_URL_FORMAT = base + "/"
    fal_http.REST_URL = base
    fal_http.CDN_URL = base
    fal_http._get_retry_delay = lambda *args, **kwargs: 0.0
    # Cached clients hold a CDN token whose base_url names the previous server.
    fal_uploads.forget_clients()

    def restore() -> None:
        for name, value in saved.items():
            setattr(fal_http, name, value)
        fal_uploads.forget_clients()

    return restore


@contextmanager
def running_fake_fal(*, keys: tuple[str, ...] = ("test-key",), queue_s: float = 0.0, run_s: float = 0.0,
                     queue_positions: int = 3, point_client: bool = True, **faults: Any) -> Iterator[FakeFal]:
    """A started fake with fal_client pointed at it. ``faults``: name -> params dict (or True),
    e.g. ``running_fake_fal(submit_status={"status": 500})``; see ``FakeFal`` for the names.
    ``point_client=False`` leaves this process's fal_client alone: for a fake that only a launched
    app talks to (the app is pointed through its environment) and that outlives many tests."""
    fake = FakeFal(keys=keys, queue_s=queue_s, run_s=run_s, queue_positions=queue_positions).start()
    for name, params in faults.items():
        fake.set_fault(name, **({} if params is True else dict(params)))
    restore = point_fal_client_at(fake.url) if point_client else None
    try:
        yield fake
    finally:
        if restore is not None:
            restore()
        fake.stop()


@contextmanager
def fake_fal_process(*, keys: tuple[str, ...] = ("test-key",), queue_s: float = 0.0,
                     run_s: float = 0.0) -> Iterator[tuple[str, Callable[[], dict[str, Any]]]]:
    """The fake in a child process, fal_client pointed at it: yields (url, stats) where ``stats()``
    returns the fake's counters. For benchmarks, so the fake's CPU is not charged to the app."""
    cmd = [sys.executable, "-m", "tests.fakes.fal_server", "--queue-s", str(queue_s), "--run-s", str(run_s)]
    for key in keys:
        cmd += ["--key", key]
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the fake fal process did not start")
        restore = point_fal_client_at(url)
        try:
            yield url, lambda: httpx.get(f"{url}/_fake/stats", timeout=10).json()
        finally:
            restore()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class EventLog:
    """An ``on_event`` callback that keeps every ProgressEvent, with shortcuts tests ask about."""

    def __init__(self, then: Callable[[ProgressEvent], None] | None = None) -> None:
        self.events: list[ProgressEvent] = []
        self._then = then

    def __call__(self, event: ProgressEvent) -> None:
        self.events.append(event)
        if self._then is not None:
            self._then(event)

    def phases(self) -> list[str]:
        return [e.phase for e in self.events]

    def of(self, phase: str) -> list[ProgressEvent]:
        return [e for e in self.events if e.phase == phase]

    @property
    def request_id(self) -> str | None:
        return next((e.request_id for e in self.events if e.request_id), None)


def sample_request(folder: Path, *, seconds: float = 3.2, images: int = 1, elements: int = 0,
                   prompt: str = "Replace the character with @Element1, in the style of @Image1",
                   tag: str = "") -> EditRequest:
    """A small valid edit (1280x720 at 24 fps, the lowest rate fal takes; flat colour at a high CRF
    keeps it ~100 KB) made with tests/mediagen.py; each element has a frontal and one side view (fal
    requires one); ``tag`` makes the images' content unique, so two requests do not share uploads."""
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / f"clip-{seconds:g}s.mp4"
    if not video.exists():
        make_clip(video, seconds=seconds, width=1280, height=720, fps=24, audio=False, crf=45)
    shade = sum(map(ord, tag)) % 200
    pics = tuple(make_image(folder / f"image{i}{tag}.png", width=320, height=320, color=(shade, 40 * i, 90))
                 for i in range(images))
    elems = tuple(Element(make_image(folder / f"element{i}{tag}.png", width=320, height=320,
                                     color=(30, shade, 40 * i)),
                          (make_image(folder / f"element{i}{tag}-side.png", width=320, height=400,
                                      color=(30, shade, 40 * i + 20)),))
                  for i in range(elements))
    return EditRequest(prompt=prompt, video=video, images=pics, elements=elems)
