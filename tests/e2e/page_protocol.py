"""The page's own traffic, as a browser tab (or a script) sends it, without a browser: many tabs at
once from one process, for the capacity test and ``bench/bench_capacity.py``.

A queued event is joined (``queue/join``) and its completion read from the session's event stream
(``queue/data``); an unqueued one (the follow timer's tick) is one POST to ``run/predict``, as
gradio's JS client sends it. Events are found by the elem_id of the component that triggers them.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FILE_META = {"_type": "gradio.FileData"}


@dataclass(frozen=True)
class Page:
    """The studio's events, read once from ``/config``."""

    config: dict

    @classmethod
    async def load(cls, http: httpx.AsyncClient) -> Page:
        return cls((await http.get("config")).json())

    def event(self, elem_id: str, trigger: str, prop: str = "elem_id") -> dict:
        """The backend event that ``trigger`` of the component ``elem_id`` (or whose ``prop`` is
        that: a button's "value") runs (the one with the most outputs, when several do)."""
        ids = [c["id"] for c in self.config["components"] if c.get("props", {}).get(prop) == elem_id]
        events = [d for d in self.config["dependencies"]
                  if d.get("backend_fn") and any([i, trigger] in d["targets"] for i in ids)]
        if not events:
            raise LookupError(f"no {trigger} event on #{elem_id}")
        return max(events, key=lambda d: len(d["outputs"]))

    def page_load(self, state_id: int) -> dict:
        """The page's first load event, which reads and writes the browser's state ``state_id``."""
        return next(d for d in self.config["dependencies"]
                    if d.get("backend_fn") and any(t[1] == "load" for t in d["targets"])
                    and d["inputs"] == d["outputs"] == [state_id])

    def component(self, kind: str) -> int:
        """The id of the page's one component of type ``kind`` ("browserstate")."""
        [found] = [c["id"] for c in self.config["components"] if c["type"] == kind]
        return found

    def timer_tick(self) -> dict:
        timers = {c["id"] for c in self.config["components"] if c["type"] == "timer"}
        return next(d for d in self.config["dependencies"]
                    if d.get("backend_fn") and any(t[0] in timers and t[1] == "tick" for t in d["targets"]))

    def output_values(self, event: dict, data: list) -> dict[str, Any]:
        """An event's output values by the elem_id (or type) of the component each goes to."""
        comps = {c["id"]: c for c in self.config["components"]}
        named = {}
        for cid, value in zip(event["outputs"], data, strict=False):
            comp = comps[cid]
            named[comp.get("props", {}).get("elem_id") or f"{comp['type']}-{cid}"] = value
        return named


async def upload(http: httpx.AsyncClient, path: Path) -> dict:
    """A file sent through gradio's upload route: the FileData a page then names in its events."""
    with open(path, "rb") as f:
        answer = await http.post("gradio_api/upload", files={"files": (path.name, f, "video/mp4")})
    answer.raise_for_status()
    return {"path": answer.json()[0], "orig_name": path.name, "meta": FILE_META}


@dataclass
class Tab:
    """One browser tab: its session hash and its owner id (what the page keeps in BrowserState)."""

    http: httpx.AsyncClient
    session: str = field(default_factory=lambda: uuid.uuid4().hex[:11])
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    async def call(self, event: dict, data: list, timeout: float = 120.0) -> dict:
        """A queued event: join, then read the session's stream until it completes. Returns the
        completion message, with ``seconds_to_start`` (join to the worker taking it) added."""
        body = {"data": data, "fn_index": event["id"], "session_hash": self.session, "event_data": None,
                "trigger_id": None}
        joined = time.monotonic()
        answer = await self.http.post("gradio_api/queue/join", json=body)
        answer.raise_for_status()
        event_id = answer.json()["event_id"]
        started = None
        deadline = joined + timeout
        async with self.http.stream("GET", "gradio_api/queue/data",
                                    params={"session_hash": self.session}) as stream:
            async for line in stream.aiter_lines():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"event {event['id']} did not complete in {timeout:g} s")
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event_id:
                    continue
                if message.get("msg") == "process_starts" and started is None:
                    started = time.monotonic()
                if message.get("msg") == "process_completed":
                    return {**message, "seconds_to_start": (started or time.monotonic()) - joined}
        raise ConnectionError("the event stream ended before the event completed")

    async def predict(self, event: dict, data: list) -> dict:
        """An unqueued event (the follow timer's tick): one POST, as gradio's JS client sends it.
        Sent again once if a kept-alive connection was closed under it, as browsers do."""
        body = {"data": data, "fn_index": event["id"], "session_hash": self.session, "event_data": None,
                "trigger_id": None}
        try:
            answer = await self.http.post("gradio_api/run/predict", json=body)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            answer = await self.http.post("gradio_api/run/predict", json=body)
        answer.raise_for_status()
        return answer.json()
