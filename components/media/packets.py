"""A video stream's frame timing read from its packets, without decoding: when each frame is shown,
for how long, and which frames are keyframes.

One demux pass in this process (PyAV), for what the MP4/MOV index cannot tell: a Matroska, WebM
or AVI clip's timing, a fragmented MP4's, and the keyframes a stream-copied cut must start at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

from av.packet import Packet

from components.media.reader import open_media, video_stream


@dataclass(frozen=True)
class VideoPackets:
    """Presentation times (seconds from the file's start, as ``-ss`` counts) of every video frame
    and of the keyframes among them, sorted; with the frame durations in the stream's own ticks,
    as ``(count, ticks)`` runs, and the seconds from the first frame's start to the last one's end."""

    frames: tuple[float, ...]
    keyframes: tuple[float, ...]
    runs: tuple[tuple[int, int], ...] = ()
    seconds: float | None = None
    decoded: tuple[float, ...] = ()  # the frames in decode (file) order: where a copy can stop exactly


def scan_packets(path: Path, action: str = "read the frames of") -> VideoPackets:
    """Every packet of ``path``'s first video stream, in one pass that decodes nothing."""
    with open_media(path, action) as container:
        stream = video_stream(container)
        if stream is None or stream.time_base is None:
            return VideoPackets((), ())
        timed = [(_time(p), p.duration or 0, p.is_keyframe)
                 for p in container.demux(stream) if _time(p) is not None]
        unit = Fraction(stream.time_base)
        origin = Fraction(container.start_time or 0, 1_000_000)
    if not timed:
        return VideoPackets((), ())
    pts = sorted(t for t, _, _ in timed)
    last = timed[-1][1]  # the last packet in file order ends the stream, whatever B-frames reorder
    return VideoPackets(
        frames=tuple(float(t * unit - origin) for t in pts),
        keyframes=tuple(sorted(float(t * unit - origin) for t, _, key in timed if key)),
        runs=tuple(duration_runs([b - a for a, b in pairwise(pts)] + [last])),
        seconds=float((pts[-1] + last - pts[0]) * unit),
        decoded=tuple(float(t * unit - origin) for t, _, _ in timed),
    )


def _time(packet: Packet) -> int | None:
    """A packet's presentation time; its decode time where the container stores no other (AVI).
    The empty packet that ends a demux has neither."""
    return packet.pts if packet.pts is not None else packet.dts


def duration_runs(durations: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive equal durations as ``(count, duration)`` runs, the MP4 index's own shape."""
    out: list[tuple[int, int]] = []
    for d in durations:
        if out and out[-1][1] == d:
            out[-1] = (out[-1][0] + 1, d)
        else:
            out.append((1, d))
    return out
