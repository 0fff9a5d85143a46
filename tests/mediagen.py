"""Test media made on the spot with the same ffmpeg the app uses (testsrc, sine), small and fast.

Shared by tests and benchmarks so every edge (mov, portrait, rotation metadata, VFR, no audio,
corrupt) is produced one way only.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(path: Path, *, seconds: float = 4.0, width: int = 1280, height: int = 720,
              fps: float | str = 25, audio: bool = True, rotate: int | None = None, vfr: bool = False,
              source: str = "testsrc2",
              crf: int = 30, preset: str = "ultrafast", tone: float = 440, pix_fmt: str = "yuv420p",
              gop: int | None = None) -> Path:
    """A clip of moving test pattern (+ a ``tone`` Hz sine). ``rotate`` writes display-rotation metadata
    (the stored frames stay ``width`` x ``height``); ``vfr`` drops frames irregularly so the
    timestamps are variable; a distinct ``tone`` tells which clip a mixed result's audio came from.
    An odd ``width``/``height`` is scaled from the next even size and needs a ``pix_fmt`` without
    chroma subsampling (``yuv444p``). ``fps`` may be a fraction such as "24000/1001" (23.976);
    ``gop`` sets the keyframe interval in frames (phones use about one second)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    even_w, even_h = width + width % 2, height + height % 2  # lavfi sources draw even sizes only
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"{source}=size={even_w}x{even_h}:rate={fps}:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency={tone:g}:sample_rate=44100:duration={seconds}"]
    vf = [] if (even_w, even_h) == (width, height) else [f"scale={width}:{height}"]
    if vfr:
        vf.append("select='not(eq(mod(n\\,5)\\,1))*not(eq(mod(n\\,7)\\,3))'")
    if vf:
        cmd += ["-vf", ",".join(vf), "-fps_mode", "vfr"]
    cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", pix_fmt]
    if gop is not None:
        cmd += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    cmd += [str(path if rotate is None else path.with_suffix(".norot" + path.suffix))]
    subprocess.run(cmd, check=True)
    if rotate is not None:
        tmp = path.with_suffix(".norot" + path.suffix)
        subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
                        "-display_rotation", str(rotate), "-i", str(tmp), "-c", "copy", str(path)],
                       check=True)
        tmp.unlink()
    return path


def make_audio(path: Path, *, seconds: float = 2.0, tone: float = 440) -> Path:
    """An audio-only file (AAC in the container ``path``'s extension names): not a video."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"sine=frequency={tone:g}:sample_rate=44100:duration={seconds}",
                    "-c:a", "aac", "-b:a", "64k", str(path)], check=True)
    return Path(path)


def make_truncated(source: Path, path: Path, keep: float = 0.4) -> Path:
    """The first ``keep`` share of a real file's bytes: a download cut off mid-way."""
    data = Path(source).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * keep)])
    return Path(path)


def make_text_as(path: Path, text: str = "this is not a video\n") -> Path:
    Path(path).write_text(text * 20)
    return Path(path)


def make_image(path: Path, *, width: int = 640, height: int = 640,
               color: tuple[int, int, int] = (200, 60, 40), fmt: str | None = None,
               exif_orientation: int | None = None) -> Path:
    """A picture with a coloured background and a figure, so palettes and orientation are measurable."""
    img = Image.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(img)
    draw.ellipse([width * 0.3, height * 0.1, width * 0.7, height * 0.4], fill=(250, 220, 180))
    draw.rectangle([width * 0.35, height * 0.4, width * 0.65, height * 0.9], fill=(30, 60, 160))
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt, **kwargs)
    return Path(path)


def make_gradient_image(path: Path, colors: list[tuple[int, int, int]], size: int = 512) -> Path:
    """Horizontal bands of the given colours: a reference with a known palette."""
    arr = np.zeros((size, size, 3), np.uint8)
    band = size // len(colors)
    for i, c in enumerate(colors):
        arr[:, i * band:(i + 1) * band] = c
    Image.fromarray(arr).save(path)
    return Path(path)


def make_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` but holds almost no pixel data: opening it reads
    only the header, so size limits and decompression-bomb guards are testable without the RAM."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                           + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))
    return Path(path)
