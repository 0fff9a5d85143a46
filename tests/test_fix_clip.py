"""Fix it goes through the edit service and the runner's local slots, like any CPU work.

It re-encodes a clip on the CPU everyone shares, so it waits its turn at a local slot (while it
waits it holds no slot and no thread of the runner), runs one at a time per visitor, counts in the
visitor's local share, and writes nothing for a request it refuses or that goes away while it waits.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.admission.spend import Caller
from components.config import Settings
from components.engines.base import CancelToken
from components.errors import InputError, RateLimitError
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from components.media.probe import probe
from components.service import FIX_WAITING, FIXING, EditService
from tests.mediagen import make_clip
from tests.services import make_service

ME = Caller("owner-fix", "198.51.100.30")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("fix") / "long.mp4", seconds=12, width=1280, height=720,
                     fps=24, audio=False, crf=40)


@pytest.fixture
def studio(tmp_path, long_clip) -> Iterator[tuple[JobRunner, EditService]]:
    config = Settings(data_dir=tmp_path / "data", scratch_dir=tmp_path / "scratch")
    store = JobStore(config.data_dir / "jobs.sqlite3")
    runner = JobRunner(store, config)
    service = make_service(config, runner, store, [long_clip.parent])
    try:
        yield runner, service
    finally:
        runner.close()


class Folders:
    """The output folders a fix asked for (made only once the work is admitted and its turn came)."""

    def __init__(self, root: Path) -> None:
        self.root, self.made = root, []

    def __call__(self) -> Path:
        folder = self.root / f"fix-{len(self.made)}"
        folder.mkdir(parents=True)
        self.made.append(folder)
        return folder


def test_fix_it_waits_its_turn_at_the_shared_cpu_then_trims_the_clip(studio, long_clip, tmp_path):
    runner, service = studio
    steps: list[str] = []
    folders = Folders(tmp_path / "out")
    busy, release = threading.Event(), threading.Event()

    def someone_elses_work(cancel: CancelToken) -> None:
        busy.set()
        release.wait(60)

    async def scenario():
        other = asyncio.create_task(runner.run_local("someone-else", someone_elses_work))
        await asyncio.to_thread(busy.wait, 60)  # the one local slot is taken
        fix = asyncio.create_task(service.fix_clip(ME, str(long_clip), 0.0, 10.05, folders,
                                                   lambda step, fraction: steps.append(step)))
        while FIX_WAITING not in steps:
            await asyncio.sleep(0.01)
        assert FIXING not in steps and folders.made == []  # waiting: no file, no ffmpeg
        release.set()
        await other
        return await fix

    result, plan = asyncio.run(scenario())
    assert steps[:2] == [FIX_WAITING, FIXING]
    assert result.path.parent == folders.made[0] and plan.end == pytest.approx(10.0, abs=0.05)
    assert probe(result.path).duration == pytest.approx(10.0, abs=0.1)


def test_a_second_fix_of_the_same_visitor_is_refused_and_writes_nothing(studio, long_clip, tmp_path):
    runner, service = studio
    folders = Folders(tmp_path / "out")
    busy, release = threading.Event(), threading.Event()

    async def scenario():
        blocker = asyncio.create_task(runner.run_local("x", lambda cancel: (busy.set(), release.wait(60))))
        await asyncio.to_thread(busy.wait, 60)
        steps: list[str] = []
        first = asyncio.create_task(service.fix_clip(ME, str(long_clip), None, None, folders,
                                                     lambda step, fraction: steps.append(step)))
        while FIX_WAITING not in steps:
            await asyncio.sleep(0.01)
        from_elsewhere = Caller(ME.owner, "203.0.113.77")  # the same owner id from another address
        with pytest.raises(RateLimitError, match="a clip being fixed already"):
            await service.fix_clip(from_elsewhere, str(long_clip), None, None, folders, lambda *_: None)
        # A closed tab cancels the waiting fix: it never starts, and the next one may.
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        release.set()
        await blocker
        return await service.fix_clip(from_elsewhere, str(long_clip), None, None, folders, lambda *_: None)

    result, _ = asyncio.run(scenario())
    assert folders.made == [result.path.parent]  # only the fix that ran made a folder


@pytest.mark.parametrize("start, end", [("1; rm -rf /", [2]), (math.nan, math.inf), (True, {"x": 1})])
def test_hostile_start_and_end_values_mean_the_whole_clip(studio, long_clip, tmp_path, start, end):
    _, service = studio
    result, plan = asyncio.run(service.fix_clip(ME, str(long_clip), start, end, Folders(tmp_path / "o"),
                                                lambda *_: None))
    assert plan.start == 0.0 and probe(result.path).duration == pytest.approx(10.0, abs=0.1)


def test_a_path_the_client_names_outside_its_uploads_is_refused(studio, tmp_path):
    _, service = studio
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(b"\0" * 1024)
    with pytest.raises(InputError):
        asyncio.run(service.fix_clip(ME, str(outside), None, None, Folders(tmp_path / "o"), lambda *_: None))
