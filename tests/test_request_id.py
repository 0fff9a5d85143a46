"""Resume by request id: a pasted id must look like fal's (a UUID) before anything waits on it."""

from __future__ import annotations

import time

import pytest

from components.config import Settings
from components.edit.request_id import check_request_id
from components.engines.local import LocalEngine
from components.errors import InputError
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore


@pytest.mark.parametrize(("text", "canonical"), [
    ("764cabcf-b745-4b3e-ae38-1200304cf45b", "764cabcf-b745-4b3e-ae38-1200304cf45b"),
    ("  764CABCF-B745-4B3E-AE38-1200304CF45B\n", "764cabcf-b745-4b3e-ae38-1200304cf45b"),
    ("{764cabcf-b745-4b3e-ae38-1200304cf45b}", "764cabcf-b745-4b3e-ae38-1200304cf45b"),
])
def test_uuids_pass_in_fals_spelling(text, canonical):
    assert check_request_id(text) == canonical


@pytest.mark.parametrize("text", ["garbage!!", "764cabcf", "764cabcf-b745-4b3e-ae38-1200304cf45", "x" * 500,
                                  "764cabcf-b745-4b3e-ae38-1200304cf45b; rm -rf /"])
def test_garbage_gets_a_sentence_naming_what_an_id_looks_like(text):
    with pytest.raises(InputError) as err:
        check_request_id(text)
    assert "is not a fal request id" in str(err.value) and "UUID" in str(err.value)
    assert err.value.field == "request_id" and len(str(err.value)) < 300


def test_empty_is_its_own_sentence():
    with pytest.raises(InputError, match="empty"):
        check_request_id("   ")


def test_the_runner_refuses_garbage_at_once_without_recording_a_job(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    runner = JobRunner(JobStore(settings.data_dir / "jobs.sqlite3"), settings)
    try:
        began = time.monotonic()
        with pytest.raises(InputError, match="not a fal request id"):
            runner.resume_by_request_id("owner-a", "garbage!!", LocalEngine())
        assert time.monotonic() - began < 0.5
        assert runner.history("owner-a") == []
    finally:
        runner.close()
