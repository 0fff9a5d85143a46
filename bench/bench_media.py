"""The media toolkit against the bare ffmpeg command line doing the same job, and the PyAV media
layer against the one it replaced, in one run.

    python -m bench.bench_media [--repeat 3] [--before 777eaa2]

Each row times the studio function and its baseline alternately (so a busy machine slows both
alike) and prints medians, their ratio and the target. The ffmpeg baselines use the studio's own
encode settings (``H264_ARGS``/``AAC_ARGS``), so a ratio measures our overhead only.

Two ratios per row: wall time, and CPU time (this process plus its ffmpeg children). On a machine
shared with other work the wall ratio of a multi-second encode swings with the neighbours' load;
the CPU ratio does not, so the verdict uses it. The rows:

- a cold probe (nothing is remembered between probes) against the ``ffmpeg -i`` subprocess it
  replaced: target <= 0.2x;
- history's still (PyAV, in this process) against the ``ffmpeg -ss 0.5 -frames:v 1`` it replaced:
  target <= 0.7x;
- conform and side-by-side, which stay on the ffmpeg binary: <= 1.1x the bare command line; and,
  for README's choice, the 4K conform's video done in this process through PyAV instead;
- the OpenCV frame loop's own cost (decode to BGR pixels, hand them to Python and back, a grade,
  x264) with an identity look, against the command line doing the same filters: <= 1.1x;
- every OpenCV look, and the colour looks whose filters changed, in frames per second before (the
  render.py and looks.py of commit ``--before``, loaded from git: three processes and a Matroska
  pipe) and after (this tree): no look slower;
- peak RSS of a 4K conform: <= 600 MB.

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
import importlib
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import av
import psutil

from bench.before import load
from components.config import VideoLimits
from components.engines.base import CancelToken
from components.engines.local.looks import BY_KEY
from components.media.compare import side_by_side
from components.media.conform import ConformPlan, conform, fit_size, plan_for
from components.media.ffmpeg import (
    AAC_ARGS,
    H264_ARGS,
    H264_CODEC,
    H264_OPTIONS,
    H264_PIXEL_FORMAT,
    MP4_ARGS,
    MP4_OPTIONS,
    ffmpeg_exe,
)
from components.media.filtergraph import FilterGraph, Source
from components.media.limits import check_video
from components.media.probe import MediaInfo, probe
from components.media.thumbnail import AT_S, WIDTH, make_thumbnail, thumbnail_path
from tests.mediagen import make_clip

RSS_TARGET_MB = 600
TRIM_SPEEDUP_TARGET = 10.0
TRIM = (1.3, 9.3)  # seconds of the 12 s clip that Fix it keeps: neither end on a keyframe
BEFORE = "777eaa2"  # the last commit before the media layer moved to PyAV
OPENCV_LOOKS = ("cartoon", "pencil_sketch", "oil_painting", "watercolor")
CHANGED_LOOKS = ("black_and_white", "warm", "neon", "vhs")  # eq became hue=s= and a lutyuv contrast
LOOP_GRADE = BY_KEY["warm"].grade  # what the frame-loop row runs around its identity look
# The module, not the package's re-export of its render() function of the same name.
current = importlib.import_module("components.engines.local.render")


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def header_read(path: Path) -> None:
    """The cheapest way to learn anything about a file: ``ffmpeg -i`` and nothing else."""
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path)], capture_output=True)


def cli_thumbnail(src: Path, out: Path) -> None:
    ffmpeg("-ss", str(AT_S), "-i", str(src), "-frames:v", "1", "-vf", f"scale={WIDTH}:-2", str(out))


def fresh_thumbnail(src: Path) -> None:
    thumbnail_path(src).unlink(missing_ok=True)
    make_thumbnail(src)


def cli_conform(src: Path, out: Path, seconds: float, size: tuple[int, int]) -> None:
    ffmpeg("-ss", "0", "-t", f"{seconds}", "-i", str(src), "-map", "0:v:0",
           "-vf", f"scale={size[0]}:{size[1]}:flags=bicubic,setsar=1", *H264_ARGS,
           "-map", "0:a:0", *AAC_ARGS, *MP4_ARGS, str(out))


def cli_plain_copy(src: Path, out: Path, start: float, end: float) -> None:
    """What a stream copy alone can do: it starts at the keyframe before ``start``."""
    ffmpeg("-ss", f"{start}", "-to", f"{end}", "-i", str(src), "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
           *MP4_ARGS, str(out))


def cli_filter(src: Path, out: Path, chain: str) -> None:
    """The frame loop's work on the command line: decode, the same filters, x264, each frame's time."""
    ffmpeg("-i", str(src), "-map", "0:v:0", "-vf", chain, *H264_ARGS, "-fps_mode", "passthrough", "-an",
           *MP4_ARGS, str(out))


def pyav_scale(src: Path, out: Path, size: tuple[int, int]) -> None:
    """A conform's video done in this process through PyAV: what README weighs against the binary."""
    with av.open(str(src)) as source, av.open(str(out), "w", options=MP4_OPTIONS) as sink:
        video = source.streams.video[0]
        video.thread_type = "AUTO"
        encoder = sink.add_stream(H264_CODEC, rate=video.average_rate, options=dict(H264_OPTIONS))
        encoder.width, encoder.height = size
        encoder.pix_fmt = H264_PIXEL_FORMAT
        encoder.codec_context.thread_type = "FRAME"
        graph = None
        for frame in source.decode(video):
            graph = graph or FilterGraph(f"[0:v]scale={size[0]}:{size[1]}:flags=bicubic,setsar=1,"
                                         f"format={H264_PIXEL_FORMAT}[vout]", {"0:v": Source.like(frame)})
            graph.push("0:v", frame)
            for scaled in graph.pull():
                sink.mux(encoder.encode(scaled))
        sink.mux(encoder.encode(None))


def cli_scale(src: Path, out: Path, size: tuple[int, int]) -> None:
    ffmpeg("-i", str(src), "-map", "0:v:0", "-vf", f"scale={size[0]}:{size[1]}:flags=bicubic,setsar=1",
           *H264_ARGS, "-an", *MP4_ARGS, str(out))


def rendering(module, info: MediaInfo, plan: object, out: Path) -> Callable[[], None]:
    """One local render by ``module`` (this tree's render.py, or the one at ``--before``)."""
    return lambda: module.render(info, plan, out, keep_audio=False, on_progress=lambda f: None,
                                 cancel=CancelToken())


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


# The 4K conform as the app runs it, in an interpreter of its own: the figure is then what a conform
# costs, not what this benchmark's process has gathered by then.
CONFORM = ("import sys; from components.media.conform import ConformPlan, conform; "
           "conform(sys.argv[1], ConformPlan(), sys.argv[2])")


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """(peak MB of ``cmd``'s process tree, peak MB of its largest process), sampled every 10 ms."""
    root = psutil.Popen(cmd, cwd=Path(__file__).resolve().parents[1])
    peaks = [0.0, 0.0]
    while root.poll() is None:
        try:
            sizes = [p.memory_info().rss for p in (root, *root.children(recursive=True))]
        except psutil.Error:  # a process exited between listing and reading
            continue
        peaks = [max(peaks[0], sum(sizes)), max(peaks[1], max(sizes))]
        time.sleep(0.01)
    if root.returncode:
        raise SystemExit(f"{cmd[:3]} failed with {root.returncode}")
    return peaks[0] / 2**20, peaks[1] / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each encode (probe runs 10x this)")
    parser.add_argument("--before", default=BEFORE, help="commit whose local engine is the baseline")
    args = parser.parse_args()
    repeat = args.repeat
    rows: list[tuple[str, str, str, float, float, str, bool]] = []
    looks: list[tuple[str, float, float, float, float]] = []  # (look, fps before, after, cpu before, after)

    def row(what: str, timings: tuple[Timing, Timing], target: float, unit: str = "s") -> None:
        ours, theirs = timings
        scale, fmt = (1000, "{:.1f} ms") if unit == "ms" else (1, "{:.2f} s")
        cpu_ratio = ours.cpu / theirs.cpu
        rows.append((what, fmt.format(ours.wall * scale), fmt.format(theirs.wall * scale),
                     ours.wall / theirs.wall, cpu_ratio, f"<= {target:g}x", cpu_ratio <= target))
        print(f"  {what}: cpu x {cpu_ratio:.2f}", flush=True)

    old_looks = load(args.before, "components/engines/local/looks.py", "before_looks")
    old_render = load(args.before, "components/engines/local/render.py", "before_render")
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        d = Path(tmp)
        print("generating clips ...", flush=True)
        # A keyframe a second, as phones record: the smart cut re-encodes at most a second of it.
        hd = make_clip(d / "hd-12s.mp4", seconds=12, width=1920, height=1080, crf=23, preset="veryfast",
                       gop=25)
        uhd = make_clip(d / "uhd-3s.mp4", seconds=3, width=3840, height=2160, crf=23)
        left = make_clip(d / "left.mp4", seconds=6, width=1280, height=720, tone=440)
        right = make_clip(d / "right.mp4", seconds=5, width=1280, height=720, tone=880)
        clip = make_clip(d / "720p.mp4", seconds=3, width=1280, height=720, audio=False, crf=23)

        probes = 10 * repeat
        for name, src in (("1080p 12 s", hd), ("4K 3 s", uhd), ("720p 3 s", clip)):
            row(f"cold probe {name} vs ffmpeg -i",
                alternate(lambda s=src: probe(s), lambda s=src: header_read(s), probes), 0.2, "ms")

        for name, src in (("1080p", hd), ("720p", clip)):
            row(f"history still {name} vs ffmpeg -frames:v 1",
                alternate(lambda s=src: fresh_thumbnail(s), lambda s=src: cli_thumbnail(s, d / "still.jpg"),
                          probes), 0.7, "ms")

        info = probe(hd)
        plan = plan_for(info, VideoLimits())
        reencode = replace(plan, copy=False)
        size, kept = fit_size(info.width, info.height, plan.limits), plan.end or info.duration
        row("conform (re-encode) 1080p 12 s -> 10 s vs CLI",
            alternate(lambda: conform(hd, reencode, d / "ours", info=info),
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
        row("  (the same video through PyAV, not used) vs CLI",
            alternate(lambda: pyav_scale(uhd, d / "pyav4k.mp4", uhd_size),
                      lambda: cli_scale(uhd, d / "cli4k-video.mp4", uhd_size), repeat), 1.1)
        row("side_by_side 720p 6 s | 5 s vs hstack",
            alternate(lambda: side_by_side(left, right, d / "sbs.mp4"),
                      lambda: cli_hstack(left, right, d / "hstack.mp4", 720), repeat), 1.1)

        small = probe(clip)
        frames = small.frame_count or round(small.duration * small.fps)
        identity = current.Recipe(frame_fns=(lambda frame: frame,), after=(LOOP_GRADE,))
        loop_cli = f"format=bgr24,{LOOP_GRADE},format=yuv420p"
        row("frame loop 720p 3 s, identity look + a grade, vs CLI",
            alternate(rendering(current, small, identity, d / "loop.mp4"),
                      lambda: cli_filter(clip, d / "loop-cli.mp4", loop_cli), repeat), 1.1)
        if old_render is not None:
            row("  (the frame loop before, EBML pipe) vs CLI",
                alternate(rendering(old_render, small, old_render.Recipe(frame_fns=identity.frame_fns,
                                                                         after=identity.after),
                                    d / "loop-old.mp4"),
                          lambda: cli_filter(clip, d / "loop-cli.mp4", loop_cli), repeat), 1.1)
            for key in (*OPENCV_LOOKS, *CHANGED_LOOKS):
                print(f"  look {key} ...", flush=True)
                after, before = alternate(
                    rendering(current, small, current.recipe([BY_KEY[key]], small.height), d / "after.mp4"),
                    rendering(old_render, small, old_render.recipe([old_looks.BY_KEY[key]], small.height),
                              d / "before.mp4"), repeat)
                looks.append((key, frames / before.wall, frames / after.wall, before.cpu, after.cpu))

        rss_ours, rss_ffmpeg = peak_rss([sys.executable, "-c", CONFORM, str(uhd), str(d / "rss")])
        rss_cli, _ = peak_rss([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-i", str(uhd),
                               "-vf", f"scale={uhd_size[0]}:{uhd_size[1]}:flags=bicubic,setsar=1", *H264_ARGS,
                               *AAC_ARGS, *MP4_ARGS, str(d / "rss-cli.mp4")])

    w = max(len(r[0]) for r in rows) + 2
    print(f"\n{'what':<{w}}{'studio':>11}{'baseline':>11}{'wall x':>8}{'cpu x':>8}  {'target':<9}ok (cpu)")
    for what, mine, base, wall, cpu, target, ok in rows:
        verdict = "yes" if ok else "NO"
        print(f"{what:<{w}}{mine:>11}{base:>11}{wall:>8.2f}{cpu:>8.2f}  {target:<9}{verdict}")
    if looks:
        print(f"\nlocal looks, 720p {small.duration:g} s ({frames} frames), before = {args.before}; "
              "target: no look slower (fps after >= before)")
        print(f"{'look':<18}{'fps before':>11}{'fps after':>11}{'x':>7}{'cpu before':>12}"
              f"{'cpu after':>11}  ok")
        for key, fps_before, fps_after, cpu_before, cpu_after in looks:
            print(f"{key:<18}{fps_before:>11.1f}{fps_after:>11.1f}{fps_after / fps_before:>7.2f}"
                  f"{cpu_before:>11.2f}s{cpu_after:>10.2f}s  {'yes' if fps_after >= fps_before else 'NO'}")
    else:
        print(f"\nlocal looks before/after: commit {args.before} not readable from git here, skipped")
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
    print(f"\npeak RSS of conform on 4K, a fresh Python + its ffmpeg: {rss_ours:.0f} MB (the largest "
          f"process {rss_ffmpeg:.0f} MB; the bare CLI alone {rss_cli:.0f} MB); target <= {RSS_TARGET_MB} MB: "
          f"{'yes' if rss_ours <= RSS_TARGET_MB else 'NO'}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
