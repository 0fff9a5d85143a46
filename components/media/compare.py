"""The comparison download: original and edit side by side in one labelled H.264 MP4.

Labels are drawn with Pillow's built-in font and overlaid, rather than with ffmpeg's drawtext:
drawtext needs a system font through fontconfig, which a slim server image may not have, while
Pillow ships its own. Both clips start at t=0; the shorter one holds its last frame until the
longer one ends, so the two stay in step frame for frame.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from components.atomic import atomic_output
from components.media.ffmpeg import AAC_ARGS, H264_ARGS, MP4_ARGS, CancelFn, ProgressFn, even, run_streaming
from components.media.probe import MediaInfo, probe

MAX_HEIGHT = 1080  # a comparison of two 4K clips needs no more; it keeps the file playable anywhere
MAX_WIDTH = 3840  # both clips together: wider than this and some browsers refuse to play
MAX_FPS = 60.0


def side_by_side(original: Path | str, edited: Path | str, out_path: Path | str,
                 labels: tuple[str, str] = ("Original", "Edited"), *,
                 on_progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> Path:
    """Write ``original | edited`` to ``out_path`` at a common height, at the edit's frame rate,
    with the edit's audio only: an edit made without its sound (keep-audio off) gives a silent
    comparison, so the download never plays sound the edit does not have. Returns ``out_path``."""
    left, right = probe(original), probe(edited)
    out_path = Path(out_path)
    height = _common_height(left, right)
    widths = [even(info.width * height / info.height) for info in (left, right)]
    duration = max(left.duration, right.duration)
    rate = min(right.constant_fps or left.constant_fps, MAX_FPS)

    chains = []
    for i, (info, width) in enumerate(zip((left, right), widths, strict=True)):
        chain = f"[{i}:v]setpts=PTS-STARTPTS,scale={width}:{height}:flags=bicubic,setsar=1,fps={rate:g}"
        if duration - info.duration > 0.001:
            chain += f",tpad=stop_mode=clone:stop_duration={duration - info.duration:.3f}"
        chains.append(chain + f",format=yuv420p[v{i}]")
    graph = ";".join([*chains, "[v0][v1]hstack=inputs=2[stack]", "[stack][2:v]overlay=0:0[out]"])
    audio = 1 if right.has_audio else None

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        band = _label_band(labels, widths, height, Path(tmp) / "labels.png")
        args = ["-i", str(left.path), "-i", str(right.path), "-i", str(band),
                "-filter_complex", graph, "-map", "[out]", *H264_ARGS]
        args += ["-map", f"{audio}:a:0", *AAC_ARGS] if audio is not None else ["-an"]
        with atomic_output(out_path) as part:
            run_streaming([*args, "-t", f"{duration:.3f}", "-map_metadata", "-1", *MP4_ARGS, "-y", str(part)],
                          file=right.path, action="build the comparison from", duration=duration,
                          on_progress=on_progress, cancel=cancel, background=True)
    return out_path


def _common_height(left: MediaInfo, right: MediaInfo) -> int:
    """The smaller of the two heights (never upscale), within MAX_HEIGHT and, side by side, MAX_WIDTH."""
    height = min(left.height, right.height, MAX_HEIGHT)
    total = left.width * height / left.height + right.width * height / right.height
    if total > MAX_WIDTH:
        height = height * MAX_WIDTH / total
    return even(height)


def _label_band(labels: tuple[str, str], widths: list[int], height: int, path: Path) -> Path:
    """A transparent strip as wide as both clips with each label in a dark box at its clip's top left."""
    size = max(14, height // 24)
    font = ImageFont.load_default(size=size)
    pad = max(4, size // 3)
    band = Image.new("RGBA", (sum(widths), size + 4 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    x = 0
    for text, width in zip(labels, widths, strict=True):
        left, top, right, bottom = draw.textbbox((x + 2 * pad, pad), text, font=font)
        draw.rounded_rectangle((left - pad, top - pad, right + pad, bottom + pad), radius=pad,
                               fill=(0, 0, 0, 160))
        draw.text((x + 2 * pad, pad), text, font=font, fill=(255, 255, 255, 255))
        x += width
    band.save(path)
    return path
