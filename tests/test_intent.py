"""One job per intent: the same owner sending the same edit twice while the first is starting gets
one job and one clear sentence, through the real edit service, runner and local engine."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from components.admission.ratelimit import SessionLimiter
from components.admission.spend import Caller
from components.config import MODEL_ID, MODEL_ID_STANDARD, Settings
from components.edit.intent import DuplicateSubmission, SubmissionGuard, fingerprint
from components.edit.request import EditRequest, Element
from components.errors import RateLimitError
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from tests.mediagen import make_clip
from tests.services import make_service


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The cheapest clip fal accepts (720x720, 24 fps, flat): what is compared is the edit, not pixels."""
    return make_clip(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=3, width=720, height=720,
                     fps=24, audio=False, source="color", crf=45)


def start_edit(runner: JobRunner, store: JobStore, limiter: SessionLimiter, settings: Settings, owner: str,
               key, request, guard: SubmissionGuard):
    """The service as the page builds it, with this test's duplicate guard and limiter."""
    service = make_service(settings, runner, store, [request.video.parent], limiter=limiter, intents=guard)
    return service.start(Caller(owner, "198.51.100.1"), key, request)


@pytest.fixture
def env(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    runner = JobRunner(store, settings, watch_tick_s=0.2)
    yield settings, runner, store, SessionLimiter(100, 10)
    runner.close()


def test_the_fingerprint_is_the_content_not_the_path(clip, tmp_path):
    copy = tmp_path / "again.mp4"
    copy.write_bytes(clip.read_bytes())
    a = EditRequest(prompt="Make it  black and white", video=clip)
    assert fingerprint(a) == fingerprint(EditRequest(prompt="Make it black and white", video=copy))
    assert fingerprint(a) != fingerprint(EditRequest(prompt="Make it sepia", video=clip))
    assert fingerprint(a) != fingerprint(EditRequest(prompt="Make it black and white", video=clip,
                                                     keep_audio=True))


def test_a_double_click_starts_one_job_and_says_why_the_second_did_not(env, clip):
    settings, runner, store, limiter = env
    guard = SubmissionGuard()
    request = EditRequest(prompt="Make it black and white", video=clip)
    barrier = threading.Barrier(2)

    def click():
        barrier.wait()  # both "clicks" reach the server at the same moment
        return start_edit(runner, store, limiter, settings, "owner-a", None, request, guard=guard)

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(click) for _ in range(2)]
    outcomes = [f.exception() or f.result() for f in futures]
    refused = [o for o in outcomes if isinstance(o, DuplicateSubmission)]
    started = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(started) == 1 and len(refused) == 1, outcomes
    assert "already starting" in str(refused[0]) and "not started twice" in str(refused[0])
    assert len(runner.history("owner-a")) == 1

    # Another owner, or the same owner with another instruction, starts as usual.
    start_edit(runner, store, limiter, settings, "owner-b", None, request, guard=guard)
    start_edit(runner, store, limiter, settings, "owner-a", None,
               EditRequest(prompt="Make it sepia", video=clip), guard=guard)
    with pytest.raises(DuplicateSubmission, match=started[0].id[:8]):
        start_edit(runner, store, limiter, settings, "owner-a", None, request, guard=guard)


def test_once_the_first_job_has_finished_the_same_edit_may_run_again(env, clip):
    settings, runner, store, limiter = env
    guard = SubmissionGuard()
    request = EditRequest(prompt="Make it black and white", video=clip)
    first = start_edit(runner, store, limiter, settings, "owner-a", None, request, guard=guard)

    async def wait() -> None:
        async for _ in runner.watch(first.id, "owner-a"):
            pass

    asyncio.run(wait())
    second = start_edit(runner, store, limiter, settings, "owner-a", None, request, guard=guard)
    assert second.id != first.id


def test_a_refused_submission_does_not_block_the_retry(env, clip):
    settings, runner, store, _ = env
    guard = SubmissionGuard()
    request = EditRequest(prompt="Make it black and white", video=clip)

    with pytest.raises(RateLimitError) as err:  # the session limit refuses it: no job exists
        start_edit(runner, store, SessionLimiter(10, 0), settings, "owner-a", None, request, guard=guard)
    assert not isinstance(err.value, DuplicateSubmission)
    start_edit(runner, store, SessionLimiter(10, 10), settings, "owner-a", None, request, guard=guard)


def test_claims_expire_after_the_window():
    now = [0.0]
    guard = SubmissionGuard(window_s=5, clock=lambda: now[0])
    guard.claim("o", "k", lambda _: True)
    guard.started("o", "k", "job-1")
    with pytest.raises(DuplicateSubmission):
        guard.claim("o", "k", lambda _: True)
    now[0] = 5.1
    guard.claim("o", "k", lambda _: True)  # a deliberate second run later is the user's call


def test_the_same_edit_on_another_tier_is_another_edit(tmp_path):
    """Switching from Kling O1 to Standard right after a Generate is a new edit, not a duplicate."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 2048)
    base = EditRequest(prompt="Make it look like winter", video=clip, model=MODEL_ID)
    assert fingerprint(base) != fingerprint(replace(base, model=MODEL_ID_STANDARD))
    assert fingerprint(base) == fingerprint(replace(base, prompt="Make  it look like winter"))


def test_each_file_counts_in_its_role(tmp_path):
    """The same files as an element's frontal or as its references, or in another order, make
    another edit: the model reads each role differently."""
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"\x89PNG a")
    b.write_bytes(b"\x89PNG b")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 2048)
    base = EditRequest(prompt="Replace him with @Element1", video=clip)
    variants = [replace(base, elements=(Element(a, (b,)),)), replace(base, elements=(Element(None, (a, b)),)),
                replace(base, elements=(Element(b, (a,)),)), replace(base, images=(a, b)),
                replace(base, images=(b, a))]
    assert len({fingerprint(v) for v in variants}) == len(variants)
