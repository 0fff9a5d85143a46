"""join_segments against bare ffmpeg joining the same segment files, in one run.

    python -m bench.bench_join [--repeat 3]

The clip is a 40 s one of four shots (12, 9, 11 and 8 s at 720x720, 24 fps), planned at
its three shot changes with 0.5 s crossfades (6 segments, 2 of them crossfaded), cut with
cut_segments; those files stand for the model's outputs.

Two baselines, timed alternately with join_segments (so a busy machine slows both alike):
- the concat demuxer with ``-c copy``: the cheapest join there is, and a wrong one (the leads
  play twice, so the frame count is off; no audio): what exactness and the crossfades cost;
- the concat filter re-encoding with the studio's own H264_ARGS/AAC_ARGS and the source's audio:
  what our normalising, crossfades and checks add to an encode that has to happen anyway.
Ratios are wall and CPU (this process plus its ffmpeg children); the CPU ratio is steadier on a
machine shared with other work. Peak RSS shows memory stays flat (one encoder, files read in turn).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from bench.bench_media import Timing, alternate, peak_rss
from components.config import VideoLimits
from components.media.ffmpeg import AAC_ARGS, H264_ARGS, MP4_ARGS, ffmpeg_exe
from components.media.probe import probe
from components.segments.cut import cut_segments, source_fps, source_frames
from components.segments.join import join_segments
from components.segments.plan import plan_segments
from components.segments.scenes import detect_cuts
from tests.mediagen import make_shots_clip

REENCODE_CPU_TARGET = 1.2  # join_segments vs a re-encoding concat of the same files


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def concat_copy(segments: list[Path], out: Path) -> None:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in segments))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", *MP4_ARGS, str(out))


def concat_reencode(segments: list[Path], source: Path, out: Path) -> None:
    inputs = [arg for p in segments for arg in ("-i", str(p))]
    graph = "".join(f"[{i}:v]" for i in range(len(segments))) + f"concat=n={len(segments)}:v=1:a=0[v]"
    ffmpeg(*inputs, "-i", str(source), "-filter_complex", graph, "-map", "[v]", *H264_ARGS,
           "-map", f"{len(segments)}:a:0", *AAC_ARGS, "-shortest", *MP4_ARGS, str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each join")
    repeat = parser.parse_args().repeat
    limits = VideoLimits()
    with tempfile.TemporaryDirectory(prefix="bench-join-") as tmp:
        d = Path(tmp)
        print("generating and cutting the 40 s clip ...", flush=True)
        source = make_shots_clip(d / "shots.mp4", shots=(12, 9, 11, 8))
        info = probe(source)
        fps = source_fps(info, limits)
        plan = plan_segments(source_frames(info, fps), fps, detect_cuts(source), limits, overlap_seconds=0.5)
        segments = cut_segments(source, plan, d / "segments", limits)
        print(plan.describe())

        ours_out, copy_out, enc_out = d / "ours.mp4", d / "copy.mp4", d / "reencode.mp4"

        def join() -> None:
            join_segments(segments, plan, source, ours_out, keep_audio=True)

        ours, copied = alternate(join, lambda: concat_copy(segments, copy_out), repeat)
        ours_again, encoded = alternate(join, lambda: concat_reencode(segments, source, enc_out), repeat)
        rss_all, rss_ffmpeg = peak_rss(join)
        frames = {name: probe(p).frame_count for name, p in
                  (("join_segments", ours_out), ("concat -c copy", copy_out), ("concat re-encode", enc_out))}

    def line(what: str, a: Timing, b: Timing) -> str:
        return (f"{what:<44}{a.wall:>8.2f} s{b.wall:>8.2f} s{a.wall / b.wall:>9.1f}x"
                f"{a.cpu / max(b.cpu, 1e-9):>9.1f}x")

    print(f"\n{'join of 6 segments, 40 s 720x720 24 fps':<44}{'studio':>10}{'baseline':>10}"
          f"{'wall x':>10}{'cpu x':>10}")
    print(line("join_segments vs concat demuxer -c copy", ours, copied))
    print(line("join_segments vs concat filter re-encode", ours_again, encoded))
    cpu_ratio = ours_again.cpu / encoded.cpu
    print(f"\nre-encode overhead target <= {REENCODE_CPU_TARGET:g}x cpu: "
          f"{'yes' if cpu_ratio <= REENCODE_CPU_TARGET else 'NO'} ({cpu_ratio:.2f}x)")
    print(f"frames out (source {plan.frame_count}): "
          + ", ".join(f"{name} {count}" for name, count in frames.items()))
    print(f"peak RSS of join_segments, Python + ffmpeg: {rss_all:.0f} MB (ffmpeg alone {rss_ffmpeg:.0f} MB)")


if __name__ == "__main__":
    main()
