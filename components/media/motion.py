"""How much of the original's motion an edit kept: the Motion Fidelity Score of Yatim et al.,
"Space-Time Diffusion Features for Zero-Shot Text-Driven Motion Transfer" (CVPR 2024), on KLT
tracklets instead of a learned tracker, so it runs on two CPU cores in a second or two.

Each clip is read at the same relative times (``SAMPLES`` frames, ``WIDTH`` px wide, grey) and cut
into windows of ``WINDOW`` samples. In each window, corners (``goodFeaturesToTrack``) are followed
with pyramidal Lucas-Kanade, forward and back; a track whose round trip misses by more than
``FB_MAX_PX`` is dropped. A tracklet is its per-step displacements. Two tracklets correlate by the
mean over steps of the cosine similarity of their displacements (two steps that both stand still
agree; one moving and one still do not). The window's score is symmetric best-match: each
original tracklet's best correlation among the edit's, averaged, and the same the other way, the two
averages averaged. Negative scores count as 0; the clip's score is the mean over measurable windows.

A window is measurable only if the original has ``MIN_TRACKS`` tracklets and moves at least
``MIN_MOTION_PX`` per step on average; a clip with no measurable window gets ``None`` ("not
measurable"), never a made-up number.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from components.atomic import atomic_output
from components.digest import file_digest

SAMPLES = 48  # frames read from each clip, at the same relative times
WIDTH = 256  # px: tracking runs on a downscaled grey copy
WINDOW = 8  # samples per window: tracklets are re-seeded each window, so occlusions cost one window
MAX_CORNERS = 120
FB_MAX_PX = 1.0  # forward-backward round trip allowed, in px of the downscaled copy
MIN_TRACKS = 8
MIN_MOTION_PX = 0.3  # mean displacement per step, px of the downscaled copy
STILL_PX = 0.15  # a step shorter than this stands still
CACHE_VERSION = "mfs1"  # in the cache key: a change of the parameters above makes new entries
_LK = {"winSize": (15, 15), "maxLevel": 3,
       "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}


@dataclass(frozen=True)
class Tracklets:
    """A clip's tracklets: per window, an array (tracks, steps, 2) of displacements in px."""

    windows: tuple[np.ndarray, ...]


def tracklets(path: Path) -> Tracklets:
    """The clip's tracklets; a clip OpenCV cannot read has none (its score is "not measurable")."""
    frames = _sampled_frames(path)
    windows = []
    for start in range(0, max(0, len(frames) - 1), WINDOW - 1):
        chunk = frames[start:start + WINDOW]
        if len(chunk) >= 3:
            windows.append(_track(chunk))
    return Tracklets(tuple(windows))


def source_tracklets(path: Path, cache_dir: Path) -> Tracklets:
    """The original's tracklets, computed once per source content: every take and re-edit of the
    same clip reuses them."""
    digest = file_digest(path)[:32]
    cached = cache_dir / f"{CACHE_VERSION}-{digest}.npz"
    if cached.is_file():
        with np.load(cached) as data:
            return Tracklets(tuple(data[f"w{i}"] for i in range(len(data.files))))
    found = tracklets(path)
    with atomic_output(cached) as part, part.open("wb") as fh:
        np.savez_compressed(fh, **{f"w{i}": w for i, w in enumerate(found.windows)})
    return found


def _measurable(window: np.ndarray) -> bool:
    """Whether an original's window has the tracklets and the motion to score an edit against."""
    return len(window) >= MIN_TRACKS and float(np.linalg.norm(window, axis=2).mean()) >= MIN_MOTION_PX


def motion_fidelity(original: Tracklets, edited: Tracklets) -> float | None:
    """0-1, where 1 is the same motion; None when the original has too little texture or motion
    to tell."""
    scores = []
    for orig, edit in zip(original.windows, edited.windows, strict=False):
        if not _measurable(orig):
            continue
        if len(edit) == 0:  # the edit lost every trackable detail where the original moved
            scores.append(0.0)
            continue
        corr = _correlations(orig, edit)
        window = 0.5 * (corr.max(axis=1).mean() + corr.max(axis=0).mean())
        scores.append(max(0.0, float(window)))
    return round(float(np.mean(scores)), 3) if scores else None


def score(original: Path, edited: Path, cache_dir: Path) -> float | None:
    """The motion score of ``edited`` against ``original`` (the original's tracklets cached).

    An original with no measurable window has no score whatever the edit holds, so the edit is
    not read: decoding it is most of a score's cost, and a still or flat shot is common."""
    source = source_tracklets(original, cache_dir)
    if not any(_measurable(window) for window in source.windows):
        return None
    return motion_fidelity(source, tracklets(edited))


def _sampled_frames(path: Path) -> list[np.ndarray]:
    """``SAMPLES`` grey frames at evenly spaced positions through the clip, ``WIDTH`` px wide."""
    capture = cv2.VideoCapture(str(path))
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if not capture.isOpened() or total < 2:
            return []
        wanted = sorted({round(i * (total - 1) / (SAMPLES - 1)) for i in range(SAMPLES)})
        frames, index = [], 0
        for target in wanted:
            while index <= target:
                ok = capture.grab()
                index += 1
                if not ok:
                    return frames
            ok, frame = capture.retrieve()
            if not ok:
                return frames
            height = max(2, round(frame.shape[0] * WIDTH / frame.shape[1]))
            small = cv2.resize(frame, (WIDTH, height), interpolation=cv2.INTER_AREA)
            frames.append(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        return frames
    finally:
        capture.release()


def _track(frames: list[np.ndarray]) -> np.ndarray:
    """Displacements (tracks, steps, 2) of the corners of ``frames[0]`` followed through all of
    them, keeping only tracks that survive every step forward and back."""
    points = cv2.goodFeaturesToTrack(frames[0], MAX_CORNERS, 0.01, 6)
    if points is None:
        return np.zeros((0, len(frames) - 1, 2), np.float32)
    path = [points.reshape(-1, 2)]
    alive = np.ones(len(path[0]), bool)
    for prev, nxt in pairwise(frames):
        p0 = path[-1].reshape(-1, 1, 2).astype(np.float32)
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev, nxt, p0, None, **_LK)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(nxt, prev, p1, None, **_LK)
        round_trip = np.linalg.norm(back.reshape(-1, 2) - p0.reshape(-1, 2), axis=1)
        alive &= (st1.ravel() == 1) & (st2.ravel() == 1) & (round_trip < FB_MAX_PX)
        path.append(p1.reshape(-1, 2))
    positions = np.stack(path, axis=1)[alive]  # (tracks, frames, 2)
    return np.diff(positions, axis=1).astype(np.float32)


def _correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)): the mean over steps of each pair's per-step displacement similarity."""
    steps = min(a.shape[1], b.shape[1])
    a, b = a[:, :steps], b[:, :steps]
    na, nb = np.linalg.norm(a, axis=2), np.linalg.norm(b, axis=2)  # (A, S), (B, S)
    cos = np.einsum("asd,bsd->abs", a, b) / np.maximum(na[:, None, :] * nb[None, :, :], 1e-9)
    still_a, still_b = na[:, None, :] < STILL_PX, nb[None, :, :] < STILL_PX
    cos = np.where(still_a & still_b, 1.0, np.where(still_a | still_b, 0.0, cos))
    return cos.mean(axis=2)
