"""A long clip is admitted before any heavy work, and its heavy work is the runner's.

Generate on a long clip only probes it and records the job: its shot changes, its plan and its
cut segments are phases of the job. A refused request leaves no file and starts no ffmpeg; the
real plan (shot changes can add segments) is admitted again before a segment is cut; a cancel
while it is prepared leaves nothing behind; and a source too heavy to decode is refused with the
limit named.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from components.admission.spend import BudgetSpent, Caller
from components.config import Settings
from components.edit.checks import check_long_clip
from components.edit.modes import EditMode
from components.edit.request import EditRequest
from components.jobs.models import Job
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from components.media.probe import probe
from components.secret import Secret
from components.service import EditService
from tests.fakes.fal_fixtures import running_fake_fal
from tests.mediagen import make_shots_clip
from tests.services import make_service
from tests.test_jobs_runner import watch_in_thread

OWNER = "owner-long"
KEY = "server-key"


@pytest.fixture(scope="module")
def three_shots(tmp_path_factory) -> Path:
    """11 s: without its shot changes two segments (the estimate), with them three."""
    return make_shots_clip(tmp_path_factory.mktemp("shots") / "three.mp4", shots=(3.2, 3.2, 4.6), audio=False)


@contextmanager
def _studio(tmp_path: Path, clip: Path, **settings) -> Iterator[tuple[Settings, JobRunner, EditService, Any]]:
    """The service on the server's key, its runner, and a fake fal that counts what reaches it."""
    config = Settings(data_dir=tmp_path / "data", scratch_dir=tmp_path / "scratch", fal_key=Secret(KEY),
                      **settings)
    store = JobStore(config.data_dir / "jobs.sqlite3")
    runner = JobRunner(store, config, watch_tick_s=0.2)
    service = make_service(config, runner, store, [clip.parent])
    try:
        with running_fake_fal(keys=(KEY,)) as fake:
            yield config, runner, service, fake
    finally:
        runner.close()


def _start(service: EditService, clip: Path, address: str) -> Job:
    request = EditRequest(prompt="Make it look like winter", video=clip)
    return service.start(Caller(OWNER, address), None, request, EditMode(segments=True))


def _files(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_a_refused_long_clip_leaves_no_file_and_no_job(tmp_path, three_shots):
    with _studio(tmp_path, three_shots, server_budget_usd_per_day=0.5) as (settings, runner, service, fake):
        with pytest.raises(BudgetSpent, match="daily budget"):
            _start(service, three_shots, "198.51.100.20")
        assert fake.submits == 0 and fake.uploads == 0
        assert runner.history(OWNER) == []
        assert _files(settings.data_dir / "jobs", settings.scratch_dir) == []


def test_the_real_plan_is_admitted_again_before_a_segment_is_cut(tmp_path, three_shots):
    """The estimate (two segments) fits an address limit of two edits an hour; the shot changes make
    it three, which does not: the job fails with the limit's sentence, nothing cut or sent."""
    with _studio(tmp_path, three_shots, server_edits_per_ip_per_hour=2) as (settings, runner, service, fake):
        parent = _start(service, three_shots, "198.51.100.21")
        final = watch_in_thread(runner, parent.id, OWNER)[-1]
        assert final.status == "failed" and "(limit 2)" in final.error, final.error
        assert fake.submits == 0 and fake.uploads == 0
        assert runner.children(parent.id, OWNER) == []
        assert not (settings.data_dir / "jobs" / parent.id / "segments").exists()
        assert service.guard.spent_today() == 0  # a parent that failed before fal costs nothing


def test_a_long_clip_is_planned_and_cut_in_the_runner_with_its_real_cost(tmp_path, three_shots):
    with _studio(tmp_path, three_shots) as (settings, runner, service, fake):
        parent = _start(service, three_shots, "198.51.100.22")
        assert parent.status == "queued" and "plan" not in parent.request["extra"]
        assert service.guard.spent_today() == pytest.approx(settings.cost(11.0), abs=0.01)  # the estimate
        snapshots = watch_in_thread(runner, parent.id, OWNER)
        final = snapshots[-1]
        assert final.status == "succeeded", final.error
        assert "preparing" in {s.phase for s in snapshots}
        assert final.request["extra"]["parts"] == 3 and fake.submits == 3
        parts = runner.children(parent.id, OWNER)
        billed = [p.request["extra"]["billed_usd"] for p in parts]
        assert service.guard.spent_today() == pytest.approx(sum(billed))
        assert probe(final.output_video).frame_count == probe(three_shots).frame_count


def test_a_cancel_while_the_clip_is_prepared_leaves_no_segment(tmp_path, three_shots):
    with _studio(tmp_path, three_shots) as (settings, runner, service, fake):
        parent = _start(service, three_shots, "198.51.100.23")
        assert runner.cancel(parent.id, OWNER)
        final = watch_in_thread(runner, parent.id, OWNER)[-1]
        assert final.status == "cancelled" and "nothing was charged" in final.message
        assert fake.submits == 0
        assert runner.children(parent.id, OWNER) == []
        assert not (settings.data_dir / "jobs" / parent.id / "segments").exists()


def test_a_source_too_heavy_to_decode_is_refused_with_the_limit(three_shots):
    """16384x8192 at 30 fps is 4,027 megapixels a second (its segments would fit the model after
    scaling, but each decode would hold about 2 GB); 3840x2160 at 60 fps still fits."""
    settings = Settings()
    real = probe(three_shots)
    huge = dataclasses.replace(real, width=16384, height=8192, coded_width=16384, coded_height=8192,
                               fps=30.0, nominal_fps=30.0, duration=40.0)
    findings = [f for f in check_long_clip(huge, settings) if f.level == "error"]
    assert any("16384x8192" in f.message and "500 megapixels a second" in f.message
               for f in findings), findings
    uhd = dataclasses.replace(huge, width=3840, height=2160, coded_width=3840, coded_height=2160, fps=60.0)
    assert not [f for f in check_long_clip(uhd, settings) if "megapixels" in f.message]
    slow = dataclasses.replace(huge, fps=2.0)  # a slow rate is cut at 24 fps: it counts at 24
    assert any("megapixels" in f.message for f in check_long_clip(slow, settings))
