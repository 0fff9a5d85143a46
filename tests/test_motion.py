"""The motion score on clips with known answers, drawn here with OpenCV: a textured picture that
pans (mostly sideways) under a moving disc. A colour change keeps the motion; mirrored, reversed,
frozen or different motion does not; a clip that never moves cannot be measured."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from components.media.motion import motion_fidelity, score, source_tracklets, tracklets

FRAMES, SIZE = 48, (320, 240)


def _scene(seed: int = 7) -> np.ndarray:
    """A large textured picture: blobs and lines of many colours, so corners are everywhere."""
    rng = np.random.default_rng(seed)
    canvas = np.full((720, 960, 3), 40, np.uint8)
    for _ in range(900):
        x, y, r = int(rng.integers(0, 960)), int(rng.integers(0, 720)), int(rng.integers(3, 14))
        cv2.circle(canvas, (x, y), r, tuple(int(c) for c in rng.integers(60, 255, 3)), -1)
    for _ in range(120):
        p, q = rng.integers(0, 960, 2), rng.integers(0, 720, 2)
        cv2.line(canvas, (int(p[0]), int(q[0])), (int(p[1]), int(q[1])),
                 tuple(int(c) for c in rng.integers(60, 255, 3)), 2)
    return canvas


def _frames(step: tuple[float, float], still: bool = False) -> list[np.ndarray]:
    """The camera moves by ``step`` px a frame over the scene, a white disc crosses the view."""
    scene, (w, h) = _scene(), SIZE
    out = []
    for i in range(FRAMES):
        k = 0 if still else i
        x, y = int(200 + step[0] * k), int(200 + step[1] * k)
        frame = scene[y:y + h, x:x + w].copy()
        cv2.circle(frame, (int(40 + 4 * k) % w, h // 2), 18, (250, 250, 250), -1)
        out.append(frame)
    return out


def _write(path: Path, frames: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24, SIZE)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


PAN = (3.0, 1.0)
EDITS: dict[str, Callable[[list[np.ndarray]], list[np.ndarray]]] = {
    "recoloured": lambda fs: [cv2.applyColorMap(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.COLORMAP_OCEAN)
                              for f in fs],
    "inverted": lambda fs: [255 - f for f in fs],
    "mirrored": lambda fs: [cv2.flip(f, 1) for f in fs],
    "reversed": lambda fs: fs[::-1],
    "frozen": lambda fs: [fs[0]] * len(fs),
    "panning across": lambda fs: _frames((-1.0, 3.0)),  # at right angles to PAN
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("motion")
    original = _frames(PAN)
    made = {"original": _write(root / "original.mp4", original),
            "still": _write(root / "still.mp4", _frames(PAN, still=True))}
    for name, edit in EDITS.items():
        made[name] = _write(root / f"{name.replace(' ', '-')}.mp4", edit(original))
    return made


@pytest.fixture(scope="module")
def original(clips):
    return tracklets(clips["original"])


@pytest.mark.parametrize("edit", ["recoloured", "inverted"])
def test_a_colour_change_of_a_moving_clip_keeps_its_motion(clips, original, edit):
    kept = motion_fidelity(original, tracklets(clips[edit]))
    assert kept is not None and kept >= 0.85, kept


@pytest.mark.parametrize("edit", ["mirrored", "reversed", "frozen", "panning across"])
def test_other_motion_over_the_same_pictures_scores_low(clips, original, edit):
    kept = motion_fidelity(original, tracklets(clips[edit]))
    assert kept is not None and kept <= 0.35, kept


def test_the_same_clip_scores_one(clips, original):
    assert motion_fidelity(original, tracklets(clips["original"])) >= 0.97


def test_a_clip_that_does_not_move_is_not_measurable(clips):
    assert motion_fidelity(tracklets(clips["still"]), tracklets(clips["recoloured"])) is None


def test_an_unreadable_clip_is_not_measurable(clips, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0" * 4096)
    assert tracklets(broken).windows == ()
    assert motion_fidelity(tracklets(broken), tracklets(clips["original"])) is None


def test_the_originals_tracklets_are_computed_once_per_content(clips, tmp_path):
    cache = tmp_path / "cache"
    first = score(clips["original"], clips["recoloured"], cache)
    stored = list(cache.iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".npz"
    again = source_tracklets(clips["original"], cache)
    assert [w.shape for w in again.windows] == [w.shape for w in tracklets(clips["original"]).windows]
    assert score(clips["original"], clips["recoloured"], cache) == first
    assert list(cache.iterdir()) == stored


_IN_OPEN = 0x20  # <sys/inotify.h>
_EVENT_SIZE = 16  # struct inotify_event without a name (a watched file's events carry none)


@contextmanager
def _opens_counted(path: Path) -> Iterator[list[int]]:
    """Opens of ``path`` meanwhile, by any code in any thread or process, counted after the block:
    the kernel queues an inotify event at each open (merging repeats in a row), so nothing races
    and nothing waits. A pipe standing in for the file did both: its writer spun while a reader
    held it open, and once held a test for 10 s."""
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "inotify_init1"):
        pytest.skip("inotify is Linux's")
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        pytest.skip(f"no inotify here: {os.strerror(ctypes.get_errno())}")
    try:
        if libc.inotify_add_watch(fd, os.fsencode(path), _IN_OPEN) < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(path))
        opens = [0]
        yield opens
        with contextlib.suppress(BlockingIOError):  # no event queued: never opened
            opens[0] = len(os.read(fd, 64 * _EVENT_SIZE)) // _EVENT_SIZE
    finally:
        os.close(fd)


def test_an_edit_of_a_clip_that_does_not_move_is_not_read(clips, tmp_path):
    """Decoding the edit is most of a score's cost, and no edit can give a still original a score."""
    edited = shutil.copyfile(clips["mirrored"], tmp_path / "edited.mp4")  # an edit that moves
    with _opens_counted(edited) as opens:
        assert score(clips["still"], edited, tmp_path / "cache") is None
    assert opens == [0]
    with _opens_counted(edited) as opens:  # the counting sees a read when there is one
        assert tracklets(edited).windows
    assert opens[0] >= 1
