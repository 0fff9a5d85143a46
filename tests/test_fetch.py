"""URL intake: SSRF refusals with the default guard, and size/time/redirect caps against a loopback
server (which only ``allow_private=True`` may reach, exactly like a self-hosted setup would)."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from components.errors import InputError
from components.guard.fetch import fetch_to_file
from tests.mediagen import make_clip


class _Handler(http.server.BaseHTTPRequestHandler):
    clip: bytes = b""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/clip.mp4":
            self._send(200, self.clip, "video/mp4")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/clip.mp4")
            self.end_headers()
        elif self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        elif self.path == "/endless":  # no Content-Length: the cap must hold while streaming
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            try:
                for _ in range(2000):
                    self.wfile.write(b"\0" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"\0" * 1024)
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/drip-headers":  # one header byte at a time: every read is "on time"
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for byte in b"X-Slow: " + b"a" * 200:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/secret":
            self._send(403, b"no", "text/plain")
        else:
            self._send(404, b"missing", "text/plain")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clip") / "c.mp4", seconds=1, width=320, height=240)
    _Handler.clip = clip.read_bytes()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def _fetch(url, tmp_path, **kw):
    kw.setdefault("max_bytes", 50_000_000)
    kw.setdefault("timeout", 10)
    return fetch_to_file(url, tmp_path, **kw)


@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1/clip.mp4", "private network"),
    ("http://localhost/clip.mp4", "private network"),
    ("http://[::1]/clip.mp4", "private network"),
    ("http://[::ffff:127.0.0.1]/clip.mp4", "private network"),
    ("http://10.1.2.3/clip.mp4", "private network"),
    ("http://192.168.0.10/clip.mp4", "private network"),
    ("http://172.16.5.4/clip.mp4", "private network"),
    ("http://169.254.169.254/latest/meta-data/", "private network"),
    ("http://100.64.0.1/clip.mp4", "private network"),
    ("http://0.0.0.0/clip.mp4", "private network"),
    ("http://[64:ff9b::7f00:1]/clip.mp4", "private network"),  # NAT64 form of 127.0.0.1
    ("http://[64:ff9b::a9fe:a9fe]/latest/", "private network"),  # NAT64 of the metadata service
    ("http://[2002:7f00:1::]/clip.mp4", "private network"),  # 6to4 form of 127.0.0.1
    ("http://[2002:a00:1::1]/clip.mp4", "private network"),  # 6to4 form of 10.0.0.1
    ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "private network"),  # Teredo, client 10.0.0.1
    ("http://[::ffff:10.0.0.1]/clip.mp4", "private network"),
    ("file:///etc/passwd", "Only http:// and https://"),
    ("ftp://example.com/clip.mp4", "Only http:// and https://"),
    ("gopher://example.com/", "Only http:// and https://"),
    ("http://user:pw@example.com/clip.mp4", "user name or password"),
    ("http:///clip.mp4", "no host name"),
])
def test_refuses_unsafe_urls_before_connecting(url, words, tmp_path):
    with pytest.raises(InputError) as err:
        _fetch(url, tmp_path)
    assert words in str(err.value)
    assert not list(tmp_path.iterdir())


def test_fetches_a_clip_when_private_addresses_are_allowed(server, tmp_path):
    path = _fetch(f"{server}/clip.mp4", tmp_path, allow_private=True)
    assert path.read_bytes() == _Handler.clip
    assert path.name == "clip.mp4"


def test_follows_redirects_and_checks_every_hop(server, tmp_path):
    assert _fetch(f"{server}/redirect", tmp_path, allow_private=True).read_bytes() == _Handler.clip
    # A public-looking first hop may not bounce the fetch into the metadata service.
    with pytest.raises(InputError, match="private network"):
        fetch_to_file(f"{server}/to-metadata", tmp_path, max_bytes=10**6, timeout=5, allow_private=False)


def test_redirect_loop_is_capped(server, tmp_path):
    with pytest.raises(InputError, match="redirects more than"):
        _fetch(f"{server}/loop", tmp_path, allow_private=True)


def test_size_cap_holds_without_content_length(server, tmp_path):
    with pytest.raises(InputError, match="larger than 1 MB"):  # MB = 1024 * 1024, as in every message
        _fetch(f"{server}/endless", tmp_path, allow_private=True, max_bytes=1024 * 1024)
    assert not list(tmp_path.iterdir()), "a partial download must not be left behind"


def test_time_cap(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(InputError, match="took longer than 1 s"):
        _fetch(f"{server}/slow", tmp_path, allow_private=True, timeout=1)
    assert time.monotonic() - start < 6, "the cap must cut a 10 s trickle short"


def test_one_deadline_covers_headers_dripped_byte_by_byte(server, tmp_path):
    """Each byte arrives well within any per-read timeout; only a wall clock over the whole exchange
    ends it (the drip would take 40 s)."""
    start = time.monotonic()
    with pytest.raises(InputError, match="took longer than 1 s"):
        _fetch(f"{server}/drip-headers", tmp_path, allow_private=True, timeout=1)
    assert time.monotonic() - start < 8
    assert not list(tmp_path.iterdir())


def test_http_error_is_explained(server, tmp_path):
    with pytest.raises(InputError, match="HTTP 403"):
        _fetch(f"{server}/secret", tmp_path, allow_private=True)


def test_unknown_host(tmp_path):
    with pytest.raises(InputError, match="could not be found"):
        _fetch("http://no-such-host.invalid/clip.mp4", tmp_path)
