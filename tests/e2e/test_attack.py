"""Every event of the page, called as an attacker would: through gradio's queue with any fn_index,
hidden events included, and a server path in every slot in the shapes a client can send.

Planted beforehand: a canary text file and a canary *video* outside every folder the app trusts,
a symlink to the video inside gradio's upload folder, a web server handing out the video, and a
canary server fal key. Afterwards no response, no URL a response names, and no file the app wrote
(gradio's upload/cache folder, the scratch folder, the job folders) may hold a canary's bytes or
the key; fal saw no submit; nothing fetched the canary's URL; and a refusal reads the same whether
the path exists or not.

Which path goes in which shape: a bare string and a ``{"path"}`` without meta reach every handler
untouched (gradio checks only FileData with meta), so they carry every kind of path, each of which
takes its own branch of a path check: a file outside the trusted folders (text, video, the app's
own secret), a missing file, a device, /proc, a traversal, a symlink and a URL. Every other shape
wraps the same paths in FileData with meta or nests them in lists and dicts: what it tests is that
the nested file is found and checked at all, so it carries the missing file (what the existence
check compares with) and the canary video (the file that would be processed), and FileData with
meta also the three paths a check that did not resolve them would let through (traversal,
symlink, URL).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.config import Settings
from tests.e2e.app_server import AppServer, launch_later, prelaunched
from tests.fakes.fal_fixtures import running_fake_fal
from tests.mediagen import make_clip

CANARY_KEY = "canary-key-id:CANARYSECRET0123456789abcdef"
CALL_TIMEOUT_S = 90.0


def _shapes(path: str) -> dict[str, Any]:
    """The ways a client can name a file in one slot."""
    meta = {"_type": "gradio.FileData"}
    return {
        "bare": path,
        "filedata_no_meta": {"path": path},
        "filedata_meta": {"path": path, "meta": meta, "orig_name": "x.mp4"},
        "gallery": [[{"path": path, "meta": meta}, "caption"], path],
        "video_wrapper": {"video": {"path": path, "meta": meta}, "subtitles": None},
        "element_list": [{"frontal": {"path": path}, "references": [{"path": path, "meta": meta}, path]}],
        "attachments": {"images": [path], "elements": [{"frontal": path, "references": [path]}]},
    }


DIRECT_SHAPES = ("bare", "filedata_no_meta")  # what reaches a handler as the client sent it
REPRESENTATIVE_PATHS = ("missing", "canary_video")  # in every other shape
UNRESOLVED_PATHS = ("traversal", "symlink", "url")  # also in FileData with meta


def _hostile_combos(path_kinds: list[str]) -> list[tuple[str, str]]:
    """(path kind, shape) of each hostile value, as the module's docstring lays out."""
    return [(pname, sname) for pname in path_kinds for sname in _shapes("")
            if sname in DIRECT_SHAPES or pname in REPRESENTATIVE_PATHS
            or (sname == "filedata_meta" and pname in UNRESOLVED_PATHS)]


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # every request is logged: count it instead of printing it
        self.server.requests += 1


@contextmanager
def _serving(folder: Path) -> Iterator[http.server.ThreadingHTTPServer]:
    """``folder`` over HTTP on loopback; the server's ``requests`` counts what it was asked."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_CountingHandler, directory=str(folder)))
    server.requests = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# What a slot holds when it is not the one under attack: enough for a handler to go on and reach
# the attacked slot (a valid prompt, no key). /edit's slots are its parameters, by position; any
# later parameter gets None, i.e. its default.
_BENIGN = {"textbox": "Make it black and white", "number": 0, "checkbox": False}
_EDIT_BENIGN = [None, "Make it black and white", [], [], False, ""]


def _events(url: str) -> list[dict]:
    """Every backend event, each with the types of its input components."""
    config = httpx.get(url + "config", timeout=30, trust_env=False).json()
    types = {c["id"]: c["type"] for c in config["components"]}
    return [{**dep, "types": [types[i] for i in dep["inputs"]]} for dep in config["dependencies"]
            if dep.get("backend_fn")]


def _calls(dep: dict, value: Any) -> Iterator[tuple[int, list]]:
    """One call per slot a client controls (gr.State slots are held by the server, whatever is
    sent), with ``value`` in that slot; an event without inputs is called once."""
    n = len(dep["types"])
    benign = ((_EDIT_BENIGN + [None] * n)[:n] if dep["types"][:1] == ["api"]
              else [_BENIGN.get(t) for t in dep["types"]])
    slots = [i for i, t in enumerate(dep["types"]) if t != "state"]
    if not slots:
        yield -1, list(benign)
    for i in slots:
        data = list(benign)
        data[i] = value
        yield i, data


def _call_all(url: str, events: list[dict], value: Any) -> Iterator[tuple[tuple[int, int], dict]]:
    """Send every event with ``value`` in each slot, in one session, and yield each completion."""
    session = uuid.uuid4().hex[:11]
    with httpx.Client(base_url=url, timeout=CALL_TIMEOUT_S, trust_env=False) as http:
        pending: dict[str, tuple[int, int]] = {}
        for dep in events:
            for slot, data in _calls(dep, value):
                body = {"data": data, "fn_index": dep["id"], "session_hash": session,
                        "event_data": {"index": 0, "value": value}, "trigger_id": None}
                answer = http.post("gradio_api/queue/join", json=body)
                if answer.status_code == 200:
                    pending[answer.json()["event_id"]] = (dep["id"], slot)
                else:
                    yield (dep["id"], slot), {"msg": "refused", "status": answer.status_code,
                                              "text": answer.text}
        deadline = time.monotonic() + CALL_TIMEOUT_S
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not pending:
                    break
                if time.monotonic() > deadline:  # a call that never ends is a finding, not a hang
                    for key in pending.values():
                        yield key, {"msg": "never completed"}
                    return
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") in pending:
                    yield pending.pop(message["event_id"]), message


def _urls(blob: str, base: str) -> set[str]:
    """Every file URL of this app that a response names (gradio serves files under /file=)."""
    found = set(re.findall(r'"url":\s*"([^"]+)"', blob)) | {
        "/gradio_api/file=" + p for p in re.findall(r'gradio_api/file=([^"\s\\]+)', blob)}
    return {u for u in found if u.startswith((base, "/"))}


def _files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.exists():
            yield from (p for p in root.rglob("*") if p.is_file())


class _Target:
    """One launched app under attack, with folders of its own (its data, upload and scratch
    folders) and the symlink planted in its upload folder."""

    def __init__(self, folder: Path, canary_video: Path, fake_url: str) -> None:
        self.data, self.gradio_tmp, self.scratch = folder / "data", folder / "gradio", folder / "scratch"
        self.symlink = self.gradio_tmp / "planted" / "canary.mp4"  # inside the upload folder, pointing out
        self.symlink.parent.mkdir(parents=True)
        self.symlink.symlink_to(canary_video)
        env = {"GRADIO_TEMP_DIR": str(self.gradio_tmp), "STUDIO_SCRATCH_DIR": str(self.scratch),
               "STUDIO_RATE_LIMIT_PER_HOUR": "100000", "STUDIO_SERVER_EDITS_PER_IP_PER_HOUR": "100000"}
        self.app = AppServer(self.data, fal_key=CANARY_KEY, fake_fal_url=fake_url, env=env)

    def paths(self, planted: Path, web_url: str) -> dict[str, str]:
        """Each kind of path, named for this app (the data folder's own files absolutely)."""
        return {"environ": "/proc/self/environ", "zero": "/dev/zero",
                "owner_secret": str(self.data / "owner.secret"),
                "canary_text": str(planted / "canary.txt"), "canary_video": str(planted / "canary.mp4"),
                "missing": str(planted / "no-such-file.mp4"),
                "traversal": str(self.gradio_tmp / ".." / ".." / "planted" / "canary.mp4"),
                "symlink": str(self.symlink), "url": web_url}


def prelaunch(root: Path, stack: ExitStack) -> tuple[dict, list[AppServer]]:
    """The planted files, the fake fal, the web server and the app, launched ahead of the module
    (tests/e2e/app_server.py)."""
    planted = root / "planted"
    planted.mkdir()
    canary_text = f"CANARY-{uuid.uuid4().hex}".encode()
    (planted / "canary.txt").write_bytes(canary_text * 10)
    canary_video = make_clip(planted / "canary.mp4", seconds=3.2, width=1280, height=720, audio=False)
    fake = stack.enter_context(running_fake_fal(keys=(CANARY_KEY,), point_client=False))
    web = stack.enter_context(_serving(planted))
    target = _Target(root / "app", canary_video, fake.url)
    launch_later(stack, target.app)
    return {"planted": planted, "canary_text": canary_text, "canary_video": canary_video, "fake": fake,
            "web": web, "target": target}, [target.app]


@pytest.fixture(scope="module")
def attacked():
    """The fuzz, on one app: its event loop answers on one core while the suite's other worker
    keeps the other busy (a second app to split the ~2,400 calls would only add its start-up)."""
    setup = prelaunched(__name__)
    target, planted, web = setup["target"], setup["planted"], setup["web"]
    events = _events(target.app.url)
    web_url = f"http://127.0.0.1:{web.server_port}/canary.mp4"
    paths = target.paths(planted, web_url)

    def run(combo: tuple[str, str]):
        pname, sname = combo
        return pname, sname, list(_call_all(target.app.url, events, _shapes(paths[pname])[sname]))

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(run, _hostile_combos(list(paths))))
    return {"target": target, "fake": setup["fake"], "results": results, "events": events,
            "canary_text": setup["canary_text"], "canary_video": setup["canary_video"].read_bytes(),
            "paths": paths, "roots": [target.gradio_tmp, target.scratch, target.data / "jobs",
                                      Settings().scratch_dir], "web": web}


def test_every_event_was_called_with_every_shape(attacked):
    assert {sname for _, sname, _ in attacked["results"]} == set(_shapes("x"))
    assert {pname for pname, _, _ in attacked["results"]} == set(attacked["paths"])
    assert attacked["target"].symlink.is_symlink(), \
        "the planted symlink was gone: it was tested as a missing file"
    calls = sum(len(outcomes) for *_, outcomes in attacked["results"])
    print(f"\nfuzz: {len(attacked['events'])} events x {len(attacked['results'])} hostile values "
          f"= {calls} calls")
    assert len(attacked["events"]) >= 30
    per_value = sum(len(list(_calls(dep, None))) for dep in attacked["events"])
    assert calls == per_value * len(attacked["results"])


def test_no_response_and_no_served_url_leaks_a_canary_or_the_key(attacked):
    leaks = []
    fetched = 0
    app = attacked["target"].app
    with httpx.Client(base_url=app.url, timeout=30, trust_env=False) as http:
        for pname, sname, outcomes in attacked["results"]:
            for fn, message in outcomes:
                blob = json.dumps(message)
                if CANARY_KEY in blob or attacked["canary_text"].decode() in blob:
                    leaks.append((pname, sname, fn, "in the response"))
                for url in _urls(blob, app.url):
                    fetched += 1
                    body = http.get(url if url.startswith("http") else "/" + url.lstrip("/")).content
                    if (attacked["canary_text"] in body or CANARY_KEY.encode() in body
                            or body == attacked["canary_video"] or b"FAL_KEY=" in body):
                        leaks.append((pname, sname, fn, url))
    print(f"fuzz: fetched {fetched} URLs named in responses; leaks: {len(leaks)}")
    assert not leaks


def test_no_file_the_app_wrote_holds_a_canary(attacked):
    copies = []
    planted = attacked["target"].symlink  # by the test, not written by the app
    for path in _files_under(*attacked["roots"]):
        if path == planted:
            continue
        content = path.read_bytes()
        if (attacked["canary_text"] in content or CANARY_KEY.encode() in content
                or content == attacked["canary_video"] or b"FAL_KEY=" in content):
            copies.append(str(path))
    assert not copies


def test_every_call_completed(attacked):
    stuck = [(p, s, key) for p, s, outcomes in attacked["results"] for key, m in outcomes
             if m.get("msg") == "never completed"]
    assert not stuck


def test_nothing_was_submitted_or_uploaded(attacked):
    assert attacked["fake"].submits == 0
    assert attacked["fake"].uploaded_bytes == 0


def test_no_url_a_client_named_was_fetched(attacked):
    assert attacked["web"].requests == 0


def test_a_refusal_does_not_tell_whether_a_path_exists(attacked):
    by_path: dict[str, dict[tuple[str, int], str]] = {}
    for pname, sname, outcomes in attacked["results"]:
        sent = attacked["paths"][pname]
        for fn, message in outcomes:
            # gradio's own refusals echo the value sent; only what they add may not differ.
            said = json.dumps(message.get("output", {}).get("error")).replace(sent, "<path>")
            by_path.setdefault(pname, {})[(sname, fn)] = said
    missing = by_path["missing"]
    # A URL is not a path that exists or not: the link box rightly answers it differently.
    for pname in ("canary_video", "canary_text", "owner_secret", "traversal", "symlink"):
        differ = [key for key, said in by_path[pname].items() if said != missing.get(key)]
        assert not differ, f"{pname}: {differ[:5]}"


def test_the_app_log_never_holds_the_key(attacked):
    assert CANARY_KEY not in attacked["target"].app.log()

