"""Suite-wide settings: no machine here reaches the internet, so nothing may try to.

Nothing in the suite speaks TLS either (every server is on loopback, over plain HTTP), so TLS
trusts a single certificate: httpx builds a TLS context from the whole CA bundle for every client
it makes, 15-30 ms of CPU each, and fal_client makes several for each upload; over a suite of fal
jobs that was most of their time. Launched apps inherit the setting with the rest of the
environment.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import certifi
import pytest

from components.config import Settings
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from tests.mediagen import CACHE_ENV, make_clip

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(proxy, None)


def _one_certificate_bundle() -> Path:
    """The first certificate of certifi's bundle, alone in a file of this session."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    bundle = Path(certifi.where()).read_text()
    first = bundle[bundle.index(begin):bundle.index(end) + len(end)]
    folder = Path(tempfile.mkdtemp(prefix="tls-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "one.pem").write_text(first + "\n")
    return folder / "one.pem"


os.environ["SSL_CERT_FILE"] = str(_one_certificate_bundle())
os.environ.pop("SSL_CERT_DIR", None)


def pytest_configure(config: pytest.Config) -> None:
    """One folder for the session, made by the main process before pytest-xdist starts its workers
    (which inherit its place with the environment) and removed when the session ends: the
    test-media cache (tests/mediagen.py) and gradio's folder (``GRADIO_TEMP_DIR``) for what has
    none of its own: gradio_client keeps every file it downloads there, and a studio built in a
    test process caches its examples there; in /tmp/gradio both would stay after the session."""
    if hasattr(config, "workerinput") or os.environ.get(CACHE_ENV):
        return
    folder = Path(tempfile.mkdtemp(prefix="studio-tests-"))
    os.environ[CACHE_ENV] = str(folder / "media")
    os.environ.setdefault("GRADIO_TEMP_DIR", str(folder / "gradio"))
    config.add_cleanup(lambda: shutil.rmtree(folder, True))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The work units of pytest-xdist's two workers (README, "Test order"): the end-to-end tests
    first, in file order, as the two groups tests/e2e/conftest.py makes of them, so each worker
    starts on one; then each unit test module as a group of its own (its module fixtures made
    once), given to whichever worker is free: the modules marked ``slow`` (seconds each: video
    encoding, a crowd of sessions) first, so the quick ones fill the end and both workers finish together."""
    for item in items:
        if item.path.parent.name != "e2e":
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
    items.sort(key=lambda item: (item.path.parent.name != "e2e", item.get_closest_marker("slow") is None))


# ----- the job runner's tests (tests/test_jobs_*.py): a tiny clip, a data folder, a runner -------


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=2, width=320, height=240,
                     fps=12, audio=False)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def store(settings) -> JobStore:
    """The one job store of a test's process, which its runner owns; tests read records from it."""
    return JobStore(settings.data_dir / "jobs.sqlite3")


@pytest.fixture
def runner(settings, store):
    runner = JobRunner(store, settings, watch_tick_s=0.2)
    yield runner
    runner.close()
