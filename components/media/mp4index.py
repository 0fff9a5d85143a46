"""Reads an MP4/MOV file's box layout and its first video track's frame timing from the index
(``moov``), without touching the frames.

It is the guard that runs before any decoder sees the file: FFmpeg's MP4 demuxer (in PyAV as in
the binary) allocates an entry per sample the index claims, so a forged index costs it gigabytes
before it says anything, while here the claim is judged against the file's size first. Walking
the top-level boxes also reveals a file that was cut off after a valid index (FFmpeg happily
reads such a header; the edit would fail later, after the upload). The timing it reads on the way
(``stts``, a few KB) is the probe's, so an MP4's frame timing never costs a pass over its packets.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Box types that can open an ISO-BMFF file (MP4, MOV, 3GP, M4A).
_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp"}
_MAX_MOOV_BYTES = 256 * 1024 * 1024
# No clip this studio handles has more frames than this (60 s at 240 fps is 14,400); an index that
# claims more is hostile or broken, and ffmpeg would build an in-memory entry for each one.
MAX_SAMPLES = 1_000_000


class ImplausibleIndex(Exception):
    """The index claims more samples than the file could hold, or than any real clip has."""

    def __init__(self, claimed: int, limit: int, reason: str) -> None:
        super().__init__(f"index claims {claimed} samples ({reason})")
        self.claimed = claimed
        self.limit = limit
        self.reason = reason


class Truncated(Exception):
    """A top-level box claims more bytes than the file has: the file was cut off."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"boxes need {expected} bytes, file has {actual}")
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class TrackTiming:
    """Decode-time durations of a video track's frames as the index stores them: runs of
    ``(frame count, ticks per frame)`` in ``timescale`` ticks per second. Kept as runs, never
    expanded per frame, so what the timing costs is what the file's bytes hold."""

    timescale: int
    runs: tuple[tuple[int, int], ...]

    @property
    def frames(self) -> int:
        return sum(n for n, _ in self.runs)

    @property
    def seconds(self) -> float:
        return sum(n * d for n, d in self.runs) / self.timescale


def looks_like_isobmff(path: Path) -> bool:
    """Whether the content (not the name) is an MP4/MOV family file."""
    with open(path, "rb") as f:
        head = f.read(8)
    return len(head) == 8 and head[4:8] in _FIRST_BOXES


def video_timing(path: Path) -> TrackTiming | None:
    """Frame timing of the first video track, or None when the index has none (fragmented MP4,
    whose timing lives in the fragments). Raises ``Truncated`` for a file that was cut off and
    ``ImplausibleIndex`` for an index whose sample counts no file of this size could hold: run it
    before ffmpeg reads the file, which allocates per claimed sample."""
    path = Path(path)
    moov = _read_moov(path)
    if moov is None:
        return None
    file_size = path.stat().st_size
    for kind, trak in _boxes(moov):
        if kind == b"trak":
            _check_sample_sizes(trak, file_size)
    for kind, trak in _boxes(moov):
        if kind != b"trak":
            continue
        mdia = _child(trak, b"mdia")
        hdlr = _child(mdia, b"hdlr") if mdia else None
        if hdlr is None or hdlr[8:12] != b"vide":
            continue
        mdhd = _child(mdia, b"mdhd")
        stbl = _child(_child(mdia, b"minf") or b"", b"stbl")
        stts = _child(stbl, b"stts") if stbl else None
        if mdhd is None or stts is None:
            return None
        # mdhd: version(1) flags(3), then 32- or 64-bit creation/modification times, then timescale.
        timescale = struct.unpack_from(">I", mdhd, 20 if mdhd[0] == 1 else 12)[0]
        (count,) = struct.unpack_from(">I", stts, 4)
        runs = tuple(struct.unpack_from(">II", stts, 8 + 8 * i) for i in range(min(count,
                                                                                   (len(stts) - 8) // 8)))
        runs = tuple((n, d) for n, d in runs if n)
        timing = TrackTiming(timescale, runs)
        _check_count(timing.frames, file_size)
        return timing if runs and timescale else None
    return None


def _check_sample_sizes(trak: bytes, file_size: int) -> None:
    """A sample size table (``stsz``) either lists each size (and must hold that many entries) or
    gives one size for all; either way the samples must fit in the file."""
    stbl = _child(_child(_child(trak, b"mdia") or b"", b"minf") or b"", b"stbl")
    stsz = _child(stbl, b"stsz") if stbl else None
    if stsz is None or len(stsz) < 12:
        return
    size, count = struct.unpack_from(">II", stsz, 4)
    if size == 0 and count > (len(stsz) - 12) // 4:
        raise ImplausibleIndex(count, (len(stsz) - 12) // 4, "its sample table is shorter than that")
    _check_count(count, file_size // max(size, 1))


def _check_count(count: int, fits: int) -> None:
    limit = min(MAX_SAMPLES, fits)
    if count > limit:
        reason = "more than the file's bytes could hold" if fits < MAX_SAMPLES else "more than any clip has"
        raise ImplausibleIndex(count, limit, reason)


def _read_moov(path: Path) -> bytes | None:
    """Walk the top-level boxes; return the ``moov`` payload and check that no box runs past EOF."""
    moov = None
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        pos = 0
        while pos + 8 <= size:
            f.seek(pos)
            head = f.read(16)
            box_size, kind = struct.unpack_from(">I4s", head)
            header = 8
            if box_size == 1 and len(head) == 16:
                box_size, header = struct.unpack_from(">Q", head, 8)[0], 16
            elif box_size == 0:  # "extends to the end of the file"
                box_size = size - pos
            if not kind.isascii() or not kind.decode("ascii").isprintable() or box_size < header:
                break  # trailing bytes that are not a box (some cameras pad files): stop reading
            if pos + box_size > size:
                raise Truncated(pos + box_size, size)
            if kind == b"moov" and box_size <= _MAX_MOOV_BYTES:
                f.seek(pos + header)
                moov = f.read(box_size - header)
            pos += box_size
    return moov


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    pos = 0
    while pos + 8 <= len(data):
        box_size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if box_size == 1 and pos + 16 <= len(data):
            box_size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif box_size == 0:
            box_size = len(data) - pos
        if box_size < header:
            return
        yield kind, data[pos + header: pos + box_size]
        pos += box_size


def _child(data: bytes, kind: bytes) -> bytes | None:
    return next((payload for k, payload in _boxes(data) if k == kind), None)
