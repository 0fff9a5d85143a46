"""The local preview engine through its Engine interface: progress, cancel, errors, notes."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import psutil
import pytest

from components.edit.request import EditRequest
from components.engines.base import CancelToken, Engine, ProgressEvent
from components.engines.local import LocalEngine
from components.engines.local.looks import describe_vocabulary
from components.errors import InputError, JobCancelled, MediaError
from tests.mediagen import make_clip, make_phone_clip, make_text_as, private_markers


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("local_engine") / "clip.mp4", seconds=1, width=320, height=240,
                     fps=25)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """Long enough that a cancel lands mid-render on a loaded machine."""
    return make_clip(tmp_path_factory.mktemp("local_engine_long") / "long.mp4", seconds=4, width=640,
                     height=360, fps=25, audio=False)


def run_edit(prompt: str, video: Path, workdir: Path, on_event=lambda event: None,
             cancel: CancelToken | None = None):
    request = EditRequest(prompt=prompt, video=video)
    return asyncio.run(LocalEngine().edit(request, workdir, on_event, cancel or CancelToken()))


def ffmpeg_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]


def test_it_is_an_engine_named_local():
    engine: Engine = LocalEngine()
    assert engine.name == "local"


@pytest.mark.parametrize("prompt", ["sepia", "cartoon"])
def test_progress_events_arrive_on_the_loop_thread_in_order(prompt, clip, tmp_path):
    events: list[ProgressEvent] = []
    threads: set[int] = set()

    def on_event(event: ProgressEvent) -> None:
        threads.add(threading.get_ident())
        events.append(event)

    async def main():
        request = EditRequest(prompt=prompt, video=clip)
        result = await LocalEngine().edit(request, tmp_path, on_event, CancelToken())
        await asyncio.sleep(0)  # let the last call_soon_threadsafe callbacks run
        return result

    result = asyncio.run(main())
    assert threads == {threading.get_ident()}
    phases = [e.phase for e in events]
    assert phases[0] == "preparing" and phases[-1] == "done" and "rendering" in phases
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert result.video == tmp_path / "edited.mp4" and result.video.is_file()
    assert result.engine == "local" and result.request_id is None
    assert set(result.timings) == {"preparing", "rendering"}


def test_the_event_loop_keeps_running_while_it_renders(long_clip, tmp_path):
    async def main():
        ticks = 0
        task = asyncio.create_task(LocalEngine().edit(EditRequest(prompt="oil painting", video=long_clip),
                                                      tmp_path, lambda e: None, CancelToken()))
        while not task.done():
            ticks += 1
            await asyncio.sleep(0.01)
        await task
        return ticks

    assert asyncio.run(main()) > 20


@pytest.mark.parametrize("prompt", ["dreamy glow", "oil painting"])  # one ffmpeg / the frame loop
def test_cancel_mid_render_raises_and_leaves_no_ffmpeg(prompt, long_clip, tmp_path):
    cancel = CancelToken()
    seen: list[ProgressEvent] = []

    def on_event(event: ProgressEvent) -> None:
        seen.append(event)
        if event.phase == "rendering":  # ffmpeg is starting or running by the time this lands
            cancel.cancel()

    started = time.monotonic()
    with pytest.raises(JobCancelled):
        run_edit(prompt, long_clip, tmp_path, on_event, cancel)
    assert cancel.cancelled and time.monotonic() - started < 30
    assert not any(e.phase == "done" for e in seen)
    assert ffmpeg_children() == []
    assert not [t.name for t in threading.enumerate() if t.name.startswith("frame-loop")]
    assert list(tmp_path.glob("*.mp4")) == [] and list(tmp_path.glob(".*.part*")) == []


def test_cancel_before_start_renders_nothing(clip, tmp_path):
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(JobCancelled):
        run_edit("sepia", clip, tmp_path, cancel=cancel)
    assert not (tmp_path / "edited.mp4").exists()


def test_corrupt_source_is_a_media_error_naming_the_file(tmp_path):
    bad = make_text_as(tmp_path / "holiday.mp4")
    with pytest.raises(MediaError) as err:
        run_edit("sepia", bad, tmp_path / "out")
    assert "holiday.mp4" in str(err.value) and "Traceback" not in str(err.value)


def test_unknown_instruction_lists_the_vocabulary_instead_of_copying_the_clip(clip, tmp_path):
    with pytest.raises(InputError) as err:
        run_edit("make it look amazing", clip, tmp_path)
    assert describe_vocabulary() in str(err.value)
    assert not (tmp_path / "edited.mp4").exists()


@pytest.mark.parametrize("prompt", ["sepia", "cartoon"])  # a filter graph; a frame loop
def test_the_edit_keeps_nothing_the_phone_wrote_about_the_clip(prompt, tmp_path):
    """The issue's finding: the local edit of a phone clip kept its title."""
    phone = make_phone_clip(tmp_path / "IMG_0001.MOV", seconds=1, width=320, height=240, fps=25)
    result = run_edit(prompt, phone, tmp_path / "job")
    assert private_markers(phone) and private_markers(result.video) == []


def test_check_refuses_what_the_preview_would_return_unchanged(clip):
    """The service asks before staging anything (components/service.py)."""
    with pytest.raises(InputError, match="did not recognise a look"):
        LocalEngine().check(EditRequest(prompt="make it beautiful", video=clip))
    LocalEngine().check(EditRequest(prompt="sepia", video=clip))


def test_kling_only_parts_are_noted_next_to_what_was_applied(clip, tmp_path):
    result = run_edit("Replace the character with @Element1, film noir", clip, tmp_path)
    assert result.notes == ["Applied: film noir.",
                            "Replace the character with @Element1: needs Kling O1 — set a fal key."]
