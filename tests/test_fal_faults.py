"""Every way fal can fail, injected at the fake, ends in the user's sentence (and never the key)."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from pathlib import Path

import pytest

from components.config import Settings
from components.engines.base import CancelToken
from components.engines.fal import FalEngine
from components.engines.fal_errors import validation_error
from components.errors import AuthError, EngineError, QueueTimeoutError, RateLimitError, StudioError
from components.media.probe import probe
from components.secret import Secret
from tests.fakes.fal_fixtures import EventLog, running_fake_fal, sample_request

KEY = "test-key"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fal-fault-inputs")


@pytest.fixture(scope="module")
def inputs(folder: Path):
    return sample_request(folder)


def engine(tmp_path: Path, key: str = KEY, **settings_changes) -> FalEngine:
    settings = replace(Settings(), data_dir=tmp_path / "data", **settings_changes)
    return FalEngine(Secret(key), settings, poll_interval_s=0.02, http_timeout_s=2.0,
                     paid_retry_delays_s=(0.05, 0.1))


def edit(engine_: FalEngine, request, tmp_path: Path, events: EventLog | None = None):
    return asyncio.run(engine_.edit(request, tmp_path / "job", events or EventLog(), CancelToken()))


def test_refused_key_says_what_to_do(inputs, tmp_path):
    with running_fake_fal(keys=("the-right-key",)), pytest.raises(AuthError) as caught:
        edit(engine(tmp_path, "a-wrong-key"), inputs, tmp_path)
    assert str(caught.value) == ("The fal key was refused (HTTP 401). Check the key at fal.ai/dashboard/keys "
                                 "or clear it to use the local preview.")


@pytest.mark.parametrize("fault", [{}, {"submit_status": {"status": 500}}], ids=["refused", "server-error"])
def test_the_key_never_reaches_logs_or_messages(inputs, tmp_path, caplog, fault):
    secret_key = "fal-SECRET-0123456789abcdef:feedface"
    accepted = ("another-key",) if not fault else (secret_key,)
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "fal_client", "components", "uvicorn"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    with running_fake_fal(keys=accepted, **fault), pytest.raises(StudioError) as caught:
        edit(engine(tmp_path, secret_key), inputs, tmp_path)
    assert caplog.records, "nothing was logged, so the check below would prove nothing"
    everything = caplog.text + str(caught.value) + repr(caught.value) + "".join(map(str, caught.value.args))
    assert secret_key not in everything and "0123456789abcdef" not in everything


def test_too_short_clip_is_named_with_the_limit(folder, tmp_path):
    short = sample_request(folder, seconds=2.0)
    with running_fake_fal() as fake, pytest.raises(EngineError) as caught:
        edit(engine(tmp_path), short, tmp_path)
    error = caught.value
    assert str(error) == ("video_url: Video duration must be between 3.0 and 10.05 seconds, got 2.00. "
                          "Kling O1 accepts 3-10.05 s.")
    assert error.field == "video_url" and not error.temporary
    assert error.request_id in fake.jobs


def test_long_prompt_and_too_many_references_are_each_named(inputs, folder, tmp_path):
    crowded = replace(sample_request(folder, images=5, tag="many"), prompt="x" * 2600)
    with running_fake_fal(), pytest.raises(EngineError) as caught:
        edit(engine(tmp_path), crowded, tmp_path)
    text = str(caught.value)
    assert text.startswith("prompt: String should have at most 2500 characters. The prompt is required and "
                           "may have up to 2500 characters.")
    assert "elements: At most 4 elements and images in total, got 5. Kling O1 takes at most 4" in text
    assert caught.value.field == "prompt"


def test_a_burst_of_429_is_retried_by_fal_client(inputs, tmp_path):
    with running_fake_fal(submit_status={"status": 429, "count": 3}) as fake:
        result = edit(engine(tmp_path), inputs, tmp_path)
        assert fake.submits == 1 and result.request_id in fake.jobs


def test_endless_429_is_a_rate_limit_with_advice(inputs, tmp_path):
    with running_fake_fal(submit_status={"status": 429}) as fake, pytest.raises(RateLimitError) as caught:
        edit(engine(tmp_path), inputs, tmp_path)
    assert fake.submits == 0
    assert "HTTP 429" in str(caught.value) and "Wait a minute" in str(caught.value)
    assert caught.value.temporary


def test_server_error_is_temporary(inputs, tmp_path):
    with running_fake_fal(submit_status={"status": 500, "detail": "Internal failure"}), \
            pytest.raises(EngineError) as caught:
        edit(engine(tmp_path), inputs, tmp_path)
    assert caught.value.temporary
    assert str(caught.value).startswith("fal had a server error (HTTP 500) while submitting the job: "
                                        "Internal failure. Try again in a minute")


def test_a_dropped_connection_is_retried_then_reported(inputs, tmp_path):
    with running_fake_fal(drop_submit={"count": 2}) as fake:
        edit(engine(tmp_path), inputs, tmp_path)
        assert fake.submits == 1
    with running_fake_fal(drop_submit=True) as fake, pytest.raises(EngineError) as caught:
        edit(engine(tmp_path), inputs, tmp_path)
    assert caught.value.temporary and fake.submits == 0
    assert str(caught.value).startswith("The connection to fal broke while submitting the job (")


def test_slow_answers_still_finish(inputs, tmp_path):
    with running_fake_fal(slow={"seconds": 0.2}) as fake:
        result = edit(engine(tmp_path), inputs, tmp_path)
        assert result.request_id in fake.jobs


def test_answers_slower_than_the_timeout_are_a_temporary_error(inputs, tmp_path):
    quick = FalEngine(Secret(KEY), replace(Settings(), data_dir=tmp_path / "data"), poll_interval_s=0.02,
                      http_timeout_s=0.15)
    with running_fake_fal(slow={"seconds": 0.5}), pytest.raises(EngineError) as caught:
        edit(quick, inputs, tmp_path)
    assert caught.value.temporary
    # A loaded machine may already miss the short timeout while uploading: same sentence, other step.
    assert re.fullmatch(r"fal did not answer in time while (submitting the job|uploading \S+)\. "
                        r"Check the connection and try again\.", str(caught.value))


def test_a_download_cut_off_once_is_retried(inputs, tmp_path):
    with running_fake_fal(drop_download={"count": 1}) as fake:
        result = edit(engine(tmp_path), inputs, tmp_path)
        assert fake.downloads == 2
    assert probe(result.video).width == 1280
    assert not list((tmp_path / "job").glob("*.part"))


def test_a_download_cut_off_every_time_names_the_request(inputs, tmp_path):
    with running_fake_fal(drop_download=True) as fake, pytest.raises(EngineError) as caught:
        edit(engine(tmp_path), inputs, tmp_path)
    rid = caught.value.request_id
    assert rid in fake.jobs and caught.value.temporary
    assert str(caught.value) == ("Downloading the edited clip from fal broke off 3 times "
                                 f"(RemoteProtocolError). The edit itself finished: resume request {rid} "
                                 "to download it again.")
    assert not list((tmp_path / "job").iterdir())


def test_a_job_stuck_in_the_queue_times_out_with_its_request_id(inputs, tmp_path):
    with running_fake_fal(stuck_in_queue=True) as fake, pytest.raises(QueueTimeoutError) as caught:
        edit(engine(tmp_path, queue_timeout_s=0.3), inputs, tmp_path)
    rid = caught.value.request_id
    assert rid in fake.jobs and fake.cancels == []  # left running: it may still finish
    assert re.fullmatch(rf"The fal job is still queued after \d+\.\d s; it may still finish: resume it later "
                        rf"with request id {rid}\.", str(caught.value))


def test_cancel_after_completion_keeps_the_paid_result(inputs, tmp_path):
    with running_fake_fal() as fake:
        cancel = CancelToken()

        def cancel_once_finished(event):
            if event.phase == "submitted":
                assert fake.jobs[event.request_id].done.wait(10)
                cancel.cancel()

        result = asyncio.run(engine(tmp_path).edit(inputs, tmp_path / "job", EventLog(cancel_once_finished),
                                                   cancel))
        assert fake.cancels == []
    assert any("cancel came too late" in note for note in result.notes)
    assert probe(result.video).width == 1280


def test_result_server_error_that_persists_names_the_request(inputs, tmp_path):
    with running_fake_fal(result_status={"status": 503}) as fake, pytest.raises(EngineError) as caught:
        edit(engine(tmp_path), inputs, tmp_path)
    assert caught.value.temporary and caught.value.request_id in fake.jobs
    assert f"The fal request id is {caught.value.request_id}." in str(caught.value)


@pytest.mark.parametrize("fault", ["result_status", "status_status"])
def test_a_passing_server_error_after_submit_does_not_lose_the_paid_result(inputs, tmp_path, fault):
    with running_fake_fal() as fake:
        fake.set_fault(fault, count=2, status=500)
        result = edit(engine(tmp_path), inputs, tmp_path)
    assert fake.submits == 1 and probe(result.video).width == 1280


def test_nested_422_locations_are_named_like_the_form_fields():
    detail = [{"loc": ["body", "elements", 1, "reference_image_urls"],
               "msg": "List should have at most 4 items", "type": "too_long"},
              {"loc": ["body", "video_url"],
               "msg": "Video dimensions must be between 720 and 2160 pixels, got 640x360.",
               "type": "value_error"}]
    error = validation_error(detail, Settings(), Secret(KEY))
    assert str(error) == (
        "elements[1].reference_image_urls: List should have at most 4 items. Kling O1 takes at most 4 "
        "elements and images together, each element with a frontal image and 1-4 reference images. "
        "video_url: Video dimensions must be between 720 and 2160 pixels, got 640x360. "
        "Kling O1 accepts a width and height of 720-2160 px each.")
    assert error.field == "elements[1].reference_image_urls"
