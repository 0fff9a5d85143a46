"""Work a refusal throws away writes nothing, and what an admitted edit stages counts against its
address: through the real edit service, runner and local engine.

The issue's finding: with the data folder on another file system (a Space's /data), one 2 MB
upload submitted 40 times with an instruction the local preview refuses added 85 MB in 2.7 s.
Here the uploads live on /dev/shm (tmpfs) and the data folder on disk, so staging copies bytes.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from components.admission.ratelimit import SessionLimiter
from components.admission.spend import Caller
from components.config import Settings
from components.edit.modes import EditMode
from components.edit.request import EditRequest
from components.errors import InputError, RateLimitError
from components.guard.write_allowance import WriteAllowance
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from components.service import EditService
from tests.mediagen import make_clip
from tests.services import make_service

SHM = Path("/dev/shm")


@pytest.fixture(scope="module")
def upload() -> Iterator[Path]:
    """A clip where gradio's uploads would be, on another file system than the data folder."""
    if not SHM.is_dir():
        pytest.skip("needs /dev/shm, a file system apart from the data folder's")
    folder = Path(tempfile.mkdtemp(dir=SHM, prefix="uploads-"))
    try:
        yield make_clip(folder / "clip.mp4", seconds=3, width=1280, height=720, fps=24, audio=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _service(root: Path, upload: Path, writes: WriteAllowance) -> EditService:
    settings = replace(Settings(), data_dir=root / "data", local_jobs_queued=100)
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    runner = JobRunner(store, settings)
    return make_service(settings, runner, store, [upload.parent], limiter=SessionLimiter(1000, 1000),
                        writes=writes)


def _written(root: Path) -> list[Path]:
    return [p for p in (root / "data" / "jobs").rglob("*") if p.exists()]


def test_forty_refused_submissions_stage_nothing(tmp_path, upload):
    service = _service(tmp_path, upload, WriteAllowance(10 ** 12, 10 ** 6))
    try:
        refusals = set()
        for i in range(40):
            request = EditRequest("Replace the walker with a knight in armour", upload)
            with pytest.raises(InputError) as refused:
                service.start(Caller(f"{i:032x}", "198.51.100.9"), None, request)
            refusals.add(str(refused.value))
        assert _written(tmp_path) == [] and service.runner.history(f"{0:032x}") == []
        assert len(refusals) == 1 and refusals.pop().startswith("The local preview cannot do any part")
    finally:
        service.runner.close()


def test_what_an_edit_stages_counts_against_its_address(tmp_path, upload):
    size = upload.stat().st_size
    writes = WriteAllowance(int(4.5 * size), 10 ** 6)  # room for four copies of the clip
    service = _service(tmp_path, upload, writes)
    caller = Caller("a" * 32, "198.51.100.10")
    request = EditRequest("Make it black and white", upload)
    try:
        service.start(caller, None, request)  # one copy
        service.start(caller, None, request, EditMode(takes=2))  # the parent and two takes: three
        with pytest.raises(RateLimitError, match=r"^This edit's files \(.+\) would take your address past"):
            service.start(caller, None, replace(request, prompt="Make it sepia"))
        assert writes.left("198.51.100.10").bytes == int(4.5 * size) - 4 * size
        # Another address is not held back.
        service.start(Caller("b" * 32, "198.51.100.11"), None, replace(request, prompt="Make it sepia"))
    finally:
        service.runner.close()
