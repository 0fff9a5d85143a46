"""Kling O1 Edit Studio: read settings, start the job runner, build the page, launch.

``python app.py`` serves on GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (gradio reads them);
``--mcp`` or STUDIO_MCP=1 also publishes the ``edit`` endpoint as an MCP tool.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import gradio as gr
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from components.admission.ratelimit import SessionLimiter
from components.admission.spend import ServerKeyGuard
from components.config import MB, Settings
from components.engines.local import LocalEngine
from components.guard.addresses import client_address
from components.guard.http_guard import GuardMiddleware
from components.guard.key_vault import KeyVault
from components.guard.owner_secret import server_secret
from components.guard.scratch import Scratch
from components.guard.trusted_files import TrustedFiles
from components.guard.write_allowance import WriteAllowance
from components.jobs import JobRunner, JobStore
from components.jobs.owners import AccountOwners
from components.service import EditService
from components.share import ShareStore
from components.share import routes as share_routes
from components.share.files import file_links
from components.ui import examples, share_panel, studio
from components.ui.deps import Deps
from components.ui.queue_polling import poll_gently

CSS = Path(__file__).parent / "components" / "ui" / "studio.css"
PAGE_WORKERS = 40  # gradio's default max_threads: what page events get whatever /edit holds
# gradio rebuilds its monitoring summary (a DataFrame of up to 10,000 past events) after every event
# by default, so each event costs more the longer the app runs; every 100 events keeps the page's
# figures fresh enough and the cost flat. Read when the queue is made, so set before any Blocks.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")
# gradio imports matplotlib around every event it runs (utils.MatplotlibBackendMananger, to pick a
# plotting backend); without matplotlib each try searches every sys.path folder again: 4.5% of the
# app's time with 200 pages following their jobs (bench_capacity under py-spy). The studio draws no
# plots, so a missing matplotlib is recorded as missing once and the import fails at once.
if importlib.util.find_spec("matplotlib") is None:
    sys.modules.setdefault("matplotlib", None)  # type: ignore[assignment]


def jobs_db(settings: Settings) -> Path:
    """The one SQLite file of jobs and share links."""
    return settings.data_dir / "jobs.sqlite3"


class Studio(NamedTuple):
    """What ``create_app`` builds: the page, the runner that owns its jobs (it outlives any browser
    tab) and the per-address write allowance that the page's events and the HTTP guard share."""

    demo: gr.Blocks
    runner: JobRunner
    writes: WriteAllowance
    store: JobStore  # the process's one job store (the runner's; tests read records from it)
    shares: ShareStore  # share links, in the same database through the same connections


def create_app(settings: Settings) -> Studio:
    """Everything ``launch`` serves, built from ``settings``."""
    check_scratch_reachable(settings.scratch_dir)
    store = JobStore(jobs_db(settings))
    runner = JobRunner(store, settings)
    scratch = Scratch(settings.scratch_dir, settings.upload_ttl_hours * 3600)
    # A path from a client is opened only inside gradio's upload folder or our scratch folder, or
    # when it is one of the examples' media files.
    files = TrustedFiles.of([get_upload_folder(), settings.scratch_dir], examples.example_files())
    guard = ServerKeyGuard(settings, store)
    writes = WriteAllowance(settings.upload_mb_per_hour * MB, settings.upload_files_per_hour)
    limiter = SessionLimiter(settings.rate_limit_per_hour, settings.max_jobs_in_flight)
    shares = ShareStore(store)
    service = EditService(settings, runner, files, guard, limiter, shares, writes=writes)
    # After the service: a long clip a restart cut short is planned again, and admitted by it.
    runner.recover(_server_fal_engine(settings), LocalEngine(settings))
    # The allow-listed users' account ids are recorded before any page asks (components/jobs/owners.py).
    accounts = AccountOwners(store, server_secret(settings.data_dir), settings.allowed_hf_users)
    demo = studio.build(Deps(settings, service, KeyVault(), files, scratch, accounts))
    poll_gently(demo.queue(default_concurrency_limit=4))
    return Studio(demo, runner, writes, store, shares)


def launch(built: Studio, settings: Settings, *, mcp: bool = False, **kwargs) -> None:
    # gradio runs at most max_threads events at once across all concurrency ids; /edit's own id may
    # hold api_concurrency of them while it waits, so page events keep gradio's default 40 beside it.
    built.demo.launch(max_file_size=f"{settings.max_upload_mb}mb", allowed_paths=_allowed_paths(),
                max_threads=PAGE_WORKERS + settings.api_concurrency,
                ssr_mode=False, mcp_server=mcp, css_paths=[CSS], app_kwargs=app_kwargs(built, settings),
                **kwargs)


def app_kwargs(built: Studio, settings: Settings) -> dict:
    """What the studio adds to gradio's FastAPI app: the guard in front of every route
    (components/guard/http_guard.py), and plain routes matched before gradio's own (components/share):
    the share pages and the owner-checked links to job files."""
    guard = Middleware(GuardMiddleware, allowance=built.writes, upload_dir=Path(get_upload_folder()),
                       min_free_bytes=settings.min_free_disk_mb * MB,
                       max_body_bytes=settings.max_request_kb * 1024,
                       client_address=lambda headers, peer: client_address(headers, peer,
                                                                           settings.trusted_proxies))
    shares = share_routes(built.shares, share_panel.player())
    files = file_links(settings).routes(built.store)
    return {"middleware": [guard], "routes": [*shares, *files]}


def _allowed_paths() -> list[str]:
    """What gradio may serve by path besides its own cache: the examples' media (public files a
    pick hands the page as they are), wherever app.py runs from. Nothing of the data folder: job
    files are reached only through owner-checked links (components/share/files.py)."""
    return [str(path) for path in examples.example_files()]


def check_scratch_reachable(scratch: Path) -> None:
    """Fix it, a fetched link and a restored input hand the page a scratch file, and gradio takes a
    file a handler returns only from its upload folder, the system's temp folder, the folder the app
    runs in, or ``allowed_paths`` (gradio/processing_utils.py, ``_check_allowed``); anywhere else
    each of those clicks fails. ``allowed_paths`` would also serve the folder to whoever names a
    path in it, so a scratch folder elsewhere is refused at start instead, with where it may go."""
    homes = [Path(get_upload_folder()), Path(tempfile.gettempdir()), Path.cwd()]
    if not any(scratch.resolve().is_relative_to(home.resolve()) for home in homes):
        raise ValueError(f"STUDIO_SCRATCH_DIR={str(scratch)!r} is outside the folders gradio hands the page "
                         f"files from ({', '.join(map(str, homes))}): Fix it, fetched links and restored "
                         "inputs would fail there. Put it inside one of them, or unset it to use the "
                         "default (the system's temp folder).")


def _server_fal_engine(settings: Settings):
    """The engine that resumes server-key fal jobs a previous process left running."""
    if not settings.fal_key:
        return None
    from components.engines.fal import FalEngine

    return FalEngine(settings.fal_key, settings)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mcp", action="store_true", help="also serve the edit endpoint over MCP")
    args = parser.parse_args()
    config = Settings.from_env()
    mcp = args.mcp or os.environ.get("STUDIO_MCP", "") in {"1", "true", "yes"}
    launch(create_app(config), config, mcp=mcp)
