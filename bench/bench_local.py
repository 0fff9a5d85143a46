"""Local preview speed: frames per second of every look at 720p and 1080p, next to the clip's own
frame rate, in one run.

    python -m bench.bench_local [--seconds 3] [--repeat 2] [--only sepia cartoon ...]

The ratio is the realtime factor (1.0x = renders as fast as the clip plays). Each render runs
``--repeat`` times and the fastest counts: on a machine shared with other work the fastest run is
the one least slowed by it. The "encode only"
row renders with no look at all (decode + x264): the floor every look sits on. Target: colour
looks (pure ffmpeg) >= 1.0x at 720p; OpenCV stylisers are reported as they are.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from components.engines.base import CancelToken
from components.engines.local.looks import VOCABULARY, Look
from components.engines.local.palette import (
    lab_stats,
    load_picture,
    video_samples,
    write_transfer_clut,
)
from components.engines.local.render import Recipe, recipe, render
from components.media.probe import MediaInfo, probe
from tests.mediagen import make_clip, make_image

SIZES = ((1280, 720), (1920, 1080))
FPS = 25
TARGET = 1.0


def timed_render(info: MediaInfo, plan: Recipe, out: Path, repeat: int) -> float:
    """Seconds of the fastest of ``repeat`` renders."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        render(info, plan, out, keep_audio=False, on_progress=lambda fraction: None, cancel=CancelToken())
        best = min(best, time.perf_counter() - start)
    return best


def rows(looks: list[Look]) -> list[tuple[str, str, Look | None]]:
    out: list[tuple[str, str, Look | None]] = [("encode only", "ffmpeg", None),
                                               ("palette of @Image1", "ffmpeg", None)]
    out += [(look.label, "OpenCV" if look.frame else "ffmpeg", look) for look in looks]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="look keys to run (default: all)")
    args = parser.parse_args()
    looks = [look for look in VOCABULARY if not args.only or look.key in args.only]
    table = {name: {} for name, _, _ in rows(looks)}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        reference = make_image(tmp / "ref.png", color=(20, 140, 160))
        for width, height in SIZES:
            clip = make_clip(tmp / f"{height}p.mp4", seconds=args.seconds, width=width, height=height,
                             fps=FPS, audio=False, crf=23)
            info = probe(clip)
            frames = info.frame_count or round(info.duration * info.fps)
            for name, _, look in rows(looks):
                if name.startswith("palette"):
                    clut = write_transfer_clut(tmp / "clut.png", lab_stats(video_samples(clip, frames)),
                                               lab_stats([load_picture(reference, "images[0]")]))
                    plan = recipe([], height, clut)
                else:
                    plan = recipe([look] if look else [], height)
                seconds = timed_render(info, plan, tmp / "out.mp4", args.repeat)
                table[name][height] = frames / seconds
                print(f"  {height}p {name}: {frames / seconds:.1f} fps", flush=True)

    print(f"\nLocal preview render speed ({args.seconds:g} s testsrc2 clips at {FPS} fps; "
          f"ratio = fps / {FPS}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    header = f"{'look':24} {'engine':7}" + "".join(f" {f'{h}p fps':>10} {'ratio':>7}" for _, h in SIZES)
    print(header + "  target")
    print("-" * (len(header) + 8))
    for name, kind, _ in rows(looks):
        cells = "".join(f" {table[name][h]:10.1f} {table[name][h] / FPS:6.2f}x" for _, h in SIZES)
        verdict = "" if kind == "OpenCV" else ("ok" if table[name][720] / FPS >= TARGET else "BELOW")
        print(f"{name:24} {kind:7}{cells}  {verdict}")


if __name__ == "__main__":
    main()
