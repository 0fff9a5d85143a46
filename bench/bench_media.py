"""The media toolkit against the bare ffmpeg command line doing the same job, in one run.

    python -m bench.bench_media [--repeat 3]

Each row times the studio function and its hand-written ffmpeg baseline alternately (so a busy
machine slows both alike) and prints medians, their ratio and the target. The baselines use the
studio's own encode settings (``H264_ARGS``/``AAC_ARGS``), so a ratio measures our overhead only:
probing the index, progress parsing, re-probing the output, the label overlay.

Two ratios per row: wall time, and CPU time (this process plus its ffmpeg children). On a machine
shared with other work the wall ratio of a multi-second encode swings with the neighbours' load;
the CPU ratio does not, so the verdict uses it.

One more line is a speed-up rather than an overhead: "Fix it" on a 12 s 1080p H.264 clip (a keyframe a
second, as phones record, and B-frames) that is only too long, trimmed to 1.3-9.3 s, which starts and
ends between keyframes. The smart cut (exactly those frames; the head re-encoded, the rest copied) is
timed beside the full re-encode the studio does without it (the same plan with ``copy=False``) and a
plain keyframe stream copy (``ffmpeg -ss -c copy``: fastest, but it keeps the keyframe span around the
range, not the range). Target: >= 10x faster than the re-encode (in CPU time, like the rows above),
and exact to the frame.
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from components.config import VideoLimits
from components.media.compare import side_by_side
from components.media.conform import ConformPlan, conform, fit_size, plan_for
from components.media.ffmpeg import AAC_ARGS, H264_ARGS, MP4_ARGS, ffmpeg_exe
from components.media.limits import check_video
from components.media.probe import probe
from tests.mediagen import make_clip

RSS_TARGET_MB = 600
TRIM_SPEEDUP_TARGET = 10.0
TRIM = (1.3, 9.3)  # seconds of the 12 s clip that Fix it keeps: neither end on a keyframe


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def header_read(path: Path) -> None:
    """The cheapest way to learn anything about a file: ``ffmpeg -i`` and nothing else."""
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path)], capture_output=True)


def cli_conform(src: Path, out: Path, seconds: float, size: tuple[int, int]) -> None:
    ffmpeg("-ss", "0", "-t", f"{seconds}", "-i", str(src), "-map", "0:v:0",
           "-vf", f"scale={size[0]}:{size[1]}:flags=bicubic,setsar=1", *H264_ARGS,
           "-map", "0:a:0", *AAC_ARGS, *MP4_ARGS, str(out))


def cli_plain_copy(src: Path, out: Path, start: float, end: float) -> None:
    """What a stream copy alone can do: it starts at the keyframe before ``start``."""
    ffmpeg("-ss", f"{start}", "-to", f"{end}", "-i", str(src), "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
           *MP4_ARGS, str(out))


def cli_hstack(left: Path, right: Path, out: Path, height: int) -> None:
    ffmpeg("-i", str(left), "-i", str(right), "-filter_complex",
           f"[0:v]scale=-2:{height}[a];[1:v]scale=-2:{height}[b];[a][b]hstack=inputs=2[v]",
           "-map", "[v]", "-map", "1:a:0", *H264_ARGS, *AAC_ARGS, *MP4_ARGS, str(out))


@dataclass(frozen=True)
class Timing:
    wall: float  # median seconds
    cpu: float  # median CPU seconds, this process and its children


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def alternate(ours: Callable[[], object], theirs: Callable[[], object], repeat: int) -> tuple[Timing, Timing]:
    """Each function run ``repeat`` times, in turns."""
    a, b = in_turns([ours, theirs], repeat)
    return a, b


def in_turns(fns: list[Callable[[], object]], repeat: int) -> list[Timing]:
    """Each of ``fns`` run ``repeat`` times, in turns (so a busy machine slows them alike)."""
    runs: list[list[tuple[float, float]]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            wall, cpu = time.perf_counter(), cpu_seconds()
            fn()
            runs[i].append((time.perf_counter() - wall, cpu_seconds() - cpu))
    return [Timing(statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for r in runs]


def peak_rss(fn: Callable[[], object]) -> tuple[float, float]:
    """(peak MB of this process plus its children, peak MB of the largest child), sampled every 10 ms."""
    me = psutil.Process()
    peaks = [0.0, 0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                children = [c.memory_info().rss for c in me.children(recursive=True)]
            except psutil.Error:  # a child exited between listing and reading
                children = []
            peaks[0] = max(peaks[0], me.memory_info().rss + sum(children))
            peaks[1] = max(peaks[1], max(children, default=0))
            time.sleep(0.01)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        fn()
    finally:
        done.set()
        watcher.join()
    return peaks[0] / 2**20, peaks[1] / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each encode (probe runs 10x this)")
    repeat = parser.parse_args().repeat
    rows: list[tuple[str, str, str, float, float, str, bool]] = []

    def row(what: str, timings: tuple[Timing, Timing], target: float, unit: str = "s") -> None:
        ours, theirs = timings
        scale, fmt = (1000, "{:.1f} ms") if unit == "ms" else (1, "{:.2f} s")
        cpu_ratio = ours.cpu / theirs.cpu
        rows.append((what, fmt.format(ours.wall * scale), fmt.format(theirs.wall * scale),
                     ours.wall / theirs.wall, cpu_ratio, f"<= {target:g}x", cpu_ratio <= target))

    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        d = Path(tmp)
        print("generating clips ...", flush=True)
        # A keyframe a second, as phones record: the smart cut re-encodes at most a second of it.
        hd = make_clip(d / "hd-12s.mp4", seconds=12, width=1920, height=1080, crf=23, preset="veryfast",
                       gop=25)
        uhd = make_clip(d / "uhd-3s.mp4", seconds=3, width=3840, height=2160, crf=23)
        left = make_clip(d / "left.mp4", seconds=6, width=1280, height=720, tone=440)
        right = make_clip(d / "right.mp4", seconds=5, width=1280, height=720, tone=880)

        probes = 10 * repeat
        row("probe 1080p 12 s vs ffmpeg -i", alternate(lambda: probe(hd), lambda: header_read(hd), probes),
            1.2, "ms")
        row("probe 4K 3 s vs ffmpeg -i", alternate(lambda: probe(uhd), lambda: header_read(uhd), probes),
            1.2, "ms")

        info = probe(hd)
        plan = plan_for(info, VideoLimits())
        reencode = replace(plan, copy=False)
        size, kept = fit_size(info.width, info.height, plan.limits), plan.end or info.duration
        row("conform (re-encode) 1080p 12 s -> 10 s vs CLI",
            alternate(lambda: conform(hd, reencode, d / "ours"),
                      lambda: cli_conform(hd, d / "cli.mp4", kept, size), repeat), 1.1)
        exact = plan_for(info, VideoLimits(), *TRIM)
        smart, encoded, plain = in_turns([lambda: conform(hd, exact, d / "smart"),
                                          lambda: conform(hd, replace(exact, copy=False), d / "enc"),
                                          lambda: cli_plain_copy(hd, d / "plain.mp4", *TRIM)], repeat)
        trim = conform(hd, exact, d / "smart")
        trim_ok = check_video(trim.info, VideoLimits()) == []
        # The frames on screen at some instant of [start, end): the one shown at the start is the first.
        asked_frames = math.ceil(TRIM[1] * info.fps) - math.floor(TRIM[0] * info.fps)
        plain_frames = probe(d / "plain.mp4").frame_count
        uhd_size = fit_size(3840, 2160, VideoLimits())
        row("conform 4K 3 s -> 2160x1216 vs CLI",
            alternate(lambda: conform(uhd, ConformPlan(), d / "ours"),
                      lambda: cli_conform(uhd, d / "cli4k.mp4", 3, uhd_size), repeat), 1.1)
        row("side_by_side 720p 6 s | 5 s vs hstack",
            alternate(lambda: side_by_side(left, right, d / "sbs.mp4"),
                      lambda: cli_hstack(left, right, d / "hstack.mp4", 720), repeat), 1.2)

        rss_ours, rss_ffmpeg = peak_rss(lambda: conform(uhd, ConformPlan(), d / "rss"))
        rss_cli, _ = peak_rss(lambda: cli_conform(uhd, d / "rss-cli.mp4", 3, uhd_size))

    w = max(len(r[0]) for r in rows) + 2
    print(f"\n{'what':<{w}}{'studio':>11}{'baseline':>11}{'wall x':>8}{'cpu x':>8}  {'target':<9}ok (cpu)")
    for what, mine, base, wall, cpu, target, ok in rows:
        verdict = "yes" if ok else "NO"
        print(f"{what:<{w}}{mine:>11}{base:>11}{wall:>8.2f}{cpu:>8.2f}  {target:<9}{verdict}")
    speedup, cpu_speedup = encoded.wall / smart.wall, encoded.cpu / max(smart.cpu, 1e-9)
    print(f"\ntrim-only Fix it, 1080p 12 s H.264 (B-frames, a keyframe a second), {TRIM[0]}-{TRIM[1]} s "
          f"({asked_frames} frames):")
    print(f"  smart cut     {smart.wall:6.2f} s  {trim.info.frame_count} frames; {trim.changes[0]}")
    print(f"  re-encode     {encoded.wall:6.2f} s  the whole range through x264")
    print(f"  plain copy    {plain.wall:6.2f} s  {plain_frames} frames: the keyframe span around the range")
    # Judged on CPU like the rows above: the re-encode spreads over every core and the cut mostly does
    # not, so on a machine shared with other work their wall times swing apart with the neighbours.
    fast, exact_ok = cpu_speedup >= TRIM_SPEEDUP_TARGET, trim.info.frame_count == asked_frames
    print(f"  smart cut vs re-encode: {speedup:.1f}x faster (cpu {cpu_speedup:.1f}x); target >= "
          f"{TRIM_SPEEDUP_TARGET:g}x (cpu): {'yes' if fast else 'NO'}; exact to the frame: "
          f"{'yes' if exact_ok else 'NO'}; passes the checks: {'yes' if trim_ok else 'NO'}")
    print(f"\npeak RSS of conform on 4K, Python + ffmpeg: {rss_ours:.0f} MB (ffmpeg alone "
          f"{rss_ffmpeg:.0f} MB; bare CLI + this Python {rss_cli:.0f} MB); target <= {RSS_TARGET_MB} MB: "
          f"{'yes' if rss_ours <= RSS_TARGET_MB else 'NO'}")


if __name__ == "__main__":
    main()
