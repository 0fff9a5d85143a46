"""Test media made on the spot with the same ffmpeg the app uses (testsrc, sine), small and fast.

Shared by tests and benchmarks so every edge (mov, portrait, rotation metadata, VFR, no audio,
corrupt) is produced one way only.

Encoding is the slow part of many fixtures and the same clip is asked for again and again (per
test, per module, by both pytest-xdist workers), so each distinct clip is encoded once per test
session and copied from then on (``_encoded_once``); every caller still gets its own file to
change or delete. The session's cache folder is named by ``CACHE_ENV``, which tests/conftest.py
sets before the workers start; a process outside a session (a benchmark) has a folder of its own.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

CACHE_ENV = "STUDIO_TEST_MEDIA_CACHE"
_cache_lock = threading.Lock()
_cache_dir: Path | None = None


def _cache_folder() -> Path:
    """The session's cache folder (``CACHE_ENV``), or one of this process's own, removed at exit."""
    global _cache_dir
    if _cache_dir is None:
        shared = os.environ.get(CACHE_ENV)
        if shared:
            _cache_dir = Path(shared)
            _cache_dir.mkdir(parents=True, exist_ok=True)
        else:
            _cache_dir = Path(tempfile.mkdtemp(prefix="mediagen-"))
            atexit.register(shutil.rmtree, _cache_dir, True)
    return _cache_dir


def _encoded_once(kind: str, params: dict[str, Any], path: Path, encode: Callable[[Path], None]) -> Path:
    """``path`` holding what ``encode`` writes for ``params``, encoded at most once per session.

    The cached file is named by the parameters and keeps ``path``'s extension (ffmpeg picks the
    container from it); callers get a copy, so a test that truncates or deletes its file cannot
    spoil another's. A lock file per entry makes a second process wanting the same clip wait for
    the first one's encode instead of doing it again.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(json.dumps([kind, params, path.suffix.lower()], sort_keys=True).encode()).hexdigest()
    with _cache_lock:
        folder = _cache_folder()
        cached = folder / f"{key[:24]}{path.suffix}"
        with (folder / f"{key[:24]}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not cached.exists():
                partial = folder / f"{uuid.uuid4().hex}{path.suffix}"  # never a half-written cache entry
                encode(partial)
                partial.replace(cached)
    shutil.copyfile(cached, path)
    return path


def make_clip(path: Path, *, seconds: float = 4.0, width: int = 1280, height: int = 720,
              fps: float | str = 25, audio: bool = True, rotate: int | None = None, vfr: bool = False,
              source: str = "testsrc2", crf: int = 30, preset: str = "ultrafast", tone: float = 440,
              pix_fmt: str = "yuv420p", gop: int | None = None) -> Path:
    """A clip of moving test pattern (+ a ``tone`` Hz sine). ``rotate`` writes display-rotation metadata
    (the stored frames stay ``width`` x ``height``); ``vfr`` drops frames irregularly so the
    timestamps are variable; a distinct ``tone`` tells which clip a mixed result's audio came from.
    An odd ``width``/``height`` is scaled from the next even size and needs a ``pix_fmt`` without
    chroma subsampling (``yuv444p``). ``fps`` may be a fraction such as "24000/1001" (23.976);
    ``gop`` sets the keyframe interval in frames (phones use about one second)."""
    params = dict(seconds=seconds, width=width, height=height, fps=fps, audio=audio, rotate=rotate, vfr=vfr,
                  source=source, crf=crf, preset=preset, tone=tone, pix_fmt=pix_fmt, gop=gop)
    return _encoded_once("clip", params, Path(path), lambda out: _encode_clip(out, **params))


def _encode_clip(path: Path, *, seconds: float, width: int, height: int, fps: float | str, audio: bool,
                 rotate: int | None, vfr: bool, source: str, crf: int, preset: str, tone: float,
                 pix_fmt: str, gop: int | None) -> None:
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


# What a phone writes about a clip, and the bytes that must never be found in one that left the studio.
PHONE_METADATA = {"title": "Secret birthday at home", "location": "+37.7749-122.4194/",
                  "com.apple.quicktime.location.ISO6709": "+37.7749-122.4194+010.000/",
                  "com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 15 Pro",
                  "com.apple.quicktime.creationdate": "2024-05-01T10:00:00+0200",
                  "creation_time": "2024-05-01T08:00:00Z", "comment": "Shot at 12 Elm Street"}
PRIVATE_MARKERS = (b"Secret birthday", b"37.7749", b"iPhone 15 Pro", b"Elm Street", b"Core Media")


def make_phone_clip(path: Path, **clip: Any) -> Path:
    """``make_clip(**clip)`` with what a phone adds: a title, GPS position, make and model, creation
    times (``PHONE_METADATA``, as QuickTime keys and udta tags) and a named video track."""
    source = make_clip(Path(path).with_name("plain-" + Path(path).name), **clip)
    tags = [arg for key, value in PHONE_METADATA.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-map", "0",
                    "-c", "copy", *tags, "-metadata:s:v", "handler_name=Core Media Video",
                    "-metadata:s:v", "creation_time=2024-05-01T08:00:00Z", "-movflags", "use_metadata_tags",
                    str(path)], check=True)
    source.unlink()
    return Path(path)


def private_markers(path: Path) -> list[bytes]:
    """Which of ``PRIVATE_MARKERS`` the file holds anywhere in its bytes."""
    data = Path(path).read_bytes()
    return [marker for marker in PRIVATE_MARKERS if marker in data]


def make_audio(path: Path, *, seconds: float = 2.0, tone: float = 440) -> Path:
    """An audio-only file (AAC in the container ``path``'s extension names): not a video."""
    def encode(out: Path) -> None:
        subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", f"sine=frequency={tone:g}:sample_rate=44100:duration={seconds}",
                        "-c:a", "aac", "-b:a", "64k", str(out)], check=True)

    return _encoded_once("audio", {"seconds": seconds, "tone": tone}, Path(path), encode)


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
               exif_orientation: int | None = None, exif: dict[int, str] | None = None) -> Path:
    """A picture with a coloured background and a figure, so palettes and orientation are measurable;
    ``exif`` adds tags (0x010E description, 0x0110 model...), as a phone's photo carries them."""
    img = Image.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(img)
    draw.ellipse([width * 0.3, height * 0.1, width * 0.7, height * 0.4], fill=(250, 220, 180))
    draw.rectangle([width * 0.35, height * 0.4, width * 0.65, height * 0.9], fill=(30, 60, 160))
    kwargs = {}
    if exif_orientation is not None or exif:
        tags = Image.Exif()
        tags.update(exif or {})
        if exif_orientation is not None:
            tags[0x0112] = exif_orientation
        kwargs["exif"] = tags
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


def make_index_bomb(source: Path, path: Path, *, samples: int = 50_000_000, table: str = "stts") -> Path:
    """A copy of an MP4 whose index claims ``samples`` frames in a few bytes: the first run of the
    time-to-sample table (``stts``) or the sample count of a fixed-size sample table (``stsz``)."""
    data = bytearray(Path(source).read_bytes())
    at = data.find(table.encode())
    if at < 0:
        raise ValueError(f"{source} has no {table} box")
    body = at + 4 + 4  # past the type and version/flags
    if table == "stts":
        struct.pack_into(">II", data, body, 1, samples)  # one run ...
        struct.pack_into(">I", data, body + 8, 512)  # ... of this many frames, 512 ticks each
    else:
        struct.pack_into(">II", data, body, 1, samples)  # every sample 1 byte, this many of them
    Path(path).write_bytes(bytes(data))
    return Path(path)


# Each shot of make_shots_clip has its own background colour, darker and lighter in turn (ffmpeg's
# scene score weighs brightness, so two colours of equal luma would not read as a cut); a white bar
# sweeping back and forth 20 px a frame makes every frame differ from its neighbours (a frame out
# of place shows) and encodes in no time. It turns without a jump: a jump would score as a cut.
_SHOT_COLOURS = ("0x802020", "0x20a0a0", "0x202080", "0xa08020", "0x602060", "0x40a040")
_BAR_STEP = 20


def make_shots_clip(path: Path, *, shots: tuple[float, ...] | list[float], width: int = 720,
                    height: int = 720, fps: float = 24, audio: bool = True) -> Path:
    """One clip of consecutive shots lasting ``shots`` seconds each, every shot a visibly different
    picture: footage whose shot changes are known to the frame (at the running sums of ``shots``)."""
    params = dict(shots=list(shots), width=width, height=height, fps=fps, audio=audio)
    bar = width // 6
    travel = (width - bar) // _BAR_STEP * _BAR_STEP
    sweep = f"overlay=x='abs(mod(n*{_BAR_STEP},{2 * travel})-{travel})':y=0:shortest=1"

    def encode(out: Path) -> None:
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
        for i, length in enumerate(shots):
            background = f"color=c={_SHOT_COLOURS[i % len(_SHOT_COLOURS)]}:size={width}x{height}"
            cmd += ["-f", "lavfi", "-i", f"{background}:rate={fps}:duration={length}"]
        if audio:
            cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={sum(shots)}"]
        graph = "".join(f"color=c=white:size={bar}x{height}:rate={fps}[b{i}];[{i}:v][b{i}]{sweep}[v{i}];"
                        for i in range(len(shots)))
        graph += "".join(f"[v{i}]" for i in range(len(shots))) + f"concat=n={len(shots)}:v=1:a=0[v]"
        cmd += ["-filter_complex", graph, "-map", "[v]"]
        if audio:
            cmd += ["-map", f"{len(shots)}:a", "-c:a", "aac", "-b:a", "64k"]
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-pix_fmt", "yuv420p", str(out)]
        subprocess.run(cmd, check=True)

    return _encoded_once("shots", params, Path(path), encode)


def make_reencoded(source: Path, path: Path, *, fps: float | None = None, width: int | None = None,
                   height: int | None = None, frames: int | None = None) -> Path:
    """``source`` as a model might send it back: at another frame rate or size, or cut to its first
    ``frames`` frames. Video only, encoded fast (what is measured is its timing, not its quality)."""
    vf = [f"fps={fps:g}"] if fps else []
    if width and height:
        vf.append(f"scale={width}:{height}")
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-map", "0:v:0"]
    cmd += ["-vf", ",".join(vf)] if vf else []
    cmd += ["-frames:v", str(frames)] if frames else []
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, check=True)
    return Path(path)
