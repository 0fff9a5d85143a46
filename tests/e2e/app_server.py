"""Launch the real app in a subprocess on a free port, for end-to-end tests.

A subprocess (not a thread) so durability tests can SIGKILL it mid-job and start it again on the
same data folder. Settings travel as environment variables, as in production; the fake fal URL
goes through tests/e2e/launch_app.py, the only code that points fal_client elsewhere.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 90.0
# gradio_client's own calls (config, upload, send) default to httpx's 5 s; on a busy 2-core machine
# an app serving dozens of sessions answers slower than that, which says nothing about the app.
# The event stream carries heartbeats every few seconds, so a long job never idles it this long.
API_TIMEOUT_S = 120.0
# gradio recomputes its monitoring summary (a pandas DataFrame of up to the last 10,000 events,
# grouped, with percentiles) after every event, so each call costs more the more calls came before:
# the attack test's thousands of calls spent most of their time there. The summary feeds only gradio's
# monitoring page, which no test reads; computed every million events it is never computed here.
ANALYTICS_EVERY_N_EVENTS = "1000000"
# Every test reaches a launched app from loopback, one client address: the write allowance (bytes
# and files an address may make the server write per hour) is raised out of the way, as the
# server key's limits are for the shared apps; tests/test_http_guard.py and
# tests/test_staging_bounds.py test it.
WRITES_OUT_OF_THE_WAY = {"STUDIO_UPLOAD_MB_PER_HOUR": "1000000", "STUDIO_UPLOAD_FILES_PER_HOUR": "1000000"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """One app process; ``kill()`` is a crash (SIGKILL), ``start()`` brings it back on the same port."""

    def __init__(self, data_dir: Path, *, fal_key: str = "", fake_fal_url: str = "",
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = self.data_dir / "app.log"
        self.env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_NAME": "127.0.0.1",
                    "GRADIO_SERVER_PORT": str(self.port), "STUDIO_DATA_DIR": str(self.data_dir),
                    "FAL_KEY": fal_key, "STUDIO_TEST_FAL_URL": fake_fal_url, "PYTHONUNBUFFERED": "1",
                    "NO_PROXY": "127.0.0.1,localhost",
                    "GRADIO_ANALYTICS_CACHE_FREQUENCY": ANALYTICS_EVERY_N_EVENTS, **WRITES_OUT_OF_THE_WAY,
                    # gradio names an upload by its content and, when the app stops, deletes every file
                    # it made: in a shared /tmp/gradio, an app stopping after its module would delete
                    # another app's copy of the same clip ("... is no longer on the server").
                    "GRADIO_TEMP_DIR": str(self.data_dir / "gradio-uploads"),
                    "STUDIO_SCRATCH_DIR": str(self.data_dir / "scratch"),  # not <tmp>/kling-studio
                    **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> AppServer:
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> AppServer:
        """The process started, not yet serving (``wait_ready``)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.launch_app"], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx.Client(timeout=2, trust_env=False) as http:  # one client: each loads the CA bundle
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"the app exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    if http.get(self.url + "gradio_api/info").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"the app did not answer within {STARTUP_TIMEOUT_S:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """A crash: no shutdown hooks run, jobs stay recorded as running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def api_client(url: str, headers: dict[str, str] | None = None) -> Client:
    """A gradio_client session for ``url``: one per test (or per simulated visitor), never shared.

    Sharing one Client across tests races inside gradio_client: a call made while the previous
    call's event stream is closing is registered on the closing stream and comes back as a
    CancelledError (most often after a refusal that answers at once). A session per caller is also
    what the tests mean: each call is its own visitor.
    """
    return Client(url, verbose=False, headers=headers, httpx_kwargs={"timeout": API_TIMEOUT_S})


def close_soon(client: Client) -> None:
    """End ``client``'s session without waiting a second for it.

    ``Client.close()`` tells the heartbeat thread to stop and then waits up to a second for it, but
    that thread is blocked reading the heartbeat stream until the server's next beat (every 15 s),
    so the close always costs the full second: most of a module of one-session-per-test cases. The
    thread stops at its next line either way (it is a daemon); only the waiting moves aside.
    """
    threading.Thread(target=client.close, daemon=True).start()


# ----- set-ups launched ahead of their module --------------------------------------------------------
# A test module may define ``prelaunch(root, stack)``: it starts what its apps need (fakes, planted
# files), launches its apps without waiting (``launch_later``) and returns ``(value, apps)``.
# tests/e2e/conftest.py calls it while the tests before the module in its group run, so the apps
# get ready meanwhile, and stops them after the module's last test; the module's fixture takes the value
# with ``prelaunched(__name__)``, which waits until its apps answer. A set-up that fails is
# reported by that fixture, failing only its own module.
Prelaunch = Callable[[Path, ExitStack], tuple[Any, Sequence[AppServer]]]
_PRELAUNCHED: dict[str, tuple[Any, Sequence[AppServer]] | BaseException] = {}


def launch_later(stack: ExitStack, *servers: AppServer) -> tuple[AppServer, ...]:
    """``servers`` launched side by side (not waited for), stopped when ``stack`` closes."""
    for server in servers:
        stack.callback(server.stop)
        server.launch()
    return servers


def run_prelaunch(name: str, prelaunch: Prelaunch, root: Path, stack: ExitStack) -> None:
    try:
        _PRELAUNCHED[name] = prelaunch(root, stack)
    except Exception as exc:  # reported by the module's own fixture, not as a session error
        _PRELAUNCHED[name] = exc


def prelaunched(module: str) -> Any:
    """The value of ``module``'s ``prelaunch``, once all of its apps answer."""
    made = _PRELAUNCHED[module]
    if isinstance(made, BaseException):
        raise RuntimeError(f"{module}.prelaunch failed") from made
    value, servers = made
    for server in servers:
        server.wait_ready()
    return value
