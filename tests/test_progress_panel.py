"""The follow tick reads back which snapshot a page shows from the panel the page sends: the
panel the server rendered reads back exactly, and anything else a client sends reads as nothing
shown, never as an error."""

from __future__ import annotations

import pytest

from components.jobs.store import JobStore
from components.ui import progress
from tests.test_jobs_store import _request

JOB_ID = "a" * 32


def test_a_rendered_panel_reads_back_its_job_and_snapshot(tmp_path):
    job = JobStore(tmp_path / "jobs.sqlite3").create("owner-a", _request(tmp_path), "local", None)
    assert progress.shown(progress.render(job)) == progress.Shown(job.id, job.updated_at)


@pytest.mark.parametrize("at", ["1.2.3", "", ".", "1e9", "-5", "nan", "9" * 5000])
def test_a_forged_snapshot_time_reads_as_nothing_shown(at):
    assert progress.shown(f'<div data-job="{JOB_ID}" data-at="{at}">') is None


@pytest.mark.parametrize("value", [None, 7, ["<div>"], {"data-at": "1"}, "x" * 100_000])
def test_what_is_not_a_panel_reads_as_nothing_shown(value):
    assert progress.shown(value) is None
