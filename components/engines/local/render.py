"""Turn a list of looks into pixels: ffmpeg filtergraphs, plus a streamed OpenCV frame loop when a
look needs one.

Colour-only edits run as one ffmpeg process (decode -> filters -> x264). Looks that need OpenCV
run as two ffmpeg processes with Python in between, one frame in memory at a time:

    ffmpeg (decode, ffmpeg stylisers) --Matroska, raw BGR--> Python (OpenCV stylisers)
        --same Matroska stream--> ffmpeg (palette, grade, texture, x264)

Why Matroska rather than bare raw frames: raw frames carry no timestamps, so a variable-frame-rate
clip would come out evenly spaced. Python rewrites only the pixels inside each Matroska block and
copies every other byte, so the second ffmpeg sees the original timing (to the millisecond, the
Matroska clock) and keeps it with ``-fps_mode passthrough``. Frame count, duration, size and
frame rate therefore match the source; only an odd width or height grows by one pixel (see
``even_size``), because browsers play H.264 4:2:0 only in even sizes.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from components.engines.base import CancelToken
from components.engines.local.looks import STAGES, FrameFn, Look, geometry
from components.errors import EngineError
from components.media.ffmpeg import AAC_ARGS, H264_ARGS, MP4_ARGS, ffmpeg_exe, media_error, run_streaming
from components.media.probe import MediaInfo

ProgressFn = Callable[[float], None]

_COPY_AUDIO = {"aac", "mp3"}  # codecs an mp4 carries that every browser plays: copied as they are
_CLUT = "<palette>"  # marks where the palette CLUT goes among the chains
_SEGMENT = 0x18538067
_CLUSTER = 0x1F43B675
_BLOCK_GROUP = 0xA0
_SIMPLE_BLOCK = 0xA3
_BLOCK = 0xA1
_UNKNOWN_SIZES = {(1 << (7 * n)) - 1 for n in range(1, 9)}


@dataclass(frozen=True)
class Recipe:
    """What to do to every frame, split around the OpenCV loop."""

    before: tuple[str, ...] = ()  # ffmpeg stylisers (they run before OpenCV ones)
    frame_fns: tuple[FrameFn, ...] = ()  # OpenCV stylisers, in order
    after: tuple[str, ...] = ()  # palette marker, grade and texture chains
    clut: Path | None = None  # Hald CLUT image for the palette transfer


def recipe(looks: Sequence[Look], height: int, clut: Path | None = None) -> Recipe:
    """The looks' chains in composition order (see looks.py), sized for ``height``."""
    sizes = geometry(height)
    by_stage = {stage: tuple(look.chain(stage).format(**sizes) for look in looks if look.chain(stage))
                for stage in STAGES}
    return Recipe(before=by_stage["stylise"],
                  frame_fns=tuple(look.frame for look in looks if look.frame is not None),
                  after=((_CLUT,) if clut else ()) + by_stage["grade"] + by_stage["texture"],
                  clut=clut)


def even_size(width: int, height: int) -> tuple[int, int]:
    """The output size: the source's, rounded up to even (yuv420p needs it)."""
    return width + width % 2, height + height % 2


def render(info: MediaInfo, plan: Recipe, output: Path, *, keep_audio: bool,
           on_progress: ProgressFn, cancel: CancelToken) -> None:
    """Write ``output`` (H.264 yuv420p mp4, +faststart). Raises ``JobCancelled`` when ``cancel``
    fires (no ffmpeg is left running), ``MediaError`` naming the source when it cannot be read."""
    if plan.frame_fns:
        _render_with_frame_loop(info, plan, output, keep_audio, on_progress, cancel)
        return
    inputs = ["-i", str(info.path)] + (["-i", str(plan.clut)] if plan.clut else [])
    graph = _graph("0:v", [*plan.before, *plan.after, _finish(info)], clut_input=1)
    run_streaming([*inputs, "-filter_complex", graph, "-map", "[vout]",
                   *_encode_args(info, keep_audio, audio_input=0), "-y", str(output)],
                  file=info.path, action="edit", duration=info.duration, on_progress=on_progress,
                  cancel=lambda: cancel.cancelled)


def _graph(source: str, chains: Sequence[str], clut_input: int | None = None) -> str:
    """Link single-input chains into one filtergraph ending at ``[vout]``. Each chain gets its own
    labelled link, so a chain may hold an inner graph (the glow's split/blend). The palette marker
    becomes ``haldclut`` fed by ffmpeg input number ``clut_input``.

    The CLUT is applied to planar float RGB: ffmpeg's tetrahedral interpolation has SIMD code for
    that format only, and on the 8-bit RGB it would otherwise get it costs twice as much (a palette
    edit of a 720p clip, encode included, about 30% less CPU; bench/bench_local.py). 8-bit planar
    RGB after it is what a following RGB filter (curves) takes without a costlier conversion."""
    links, current = [], f"[{source}]"
    for i, chain in enumerate(chains):
        out = "[vout]" if i == len(chains) - 1 else f"[s{i}]"
        if chain == _CLUT:
            links.append(f"{current}format=gbrpf32le[f{i}];"
                         f"[f{i}][{clut_input}:v]haldclut=interp=tetrahedral,format=gbrp{out}")
        else:
            links.append(f"{current}{chain}{out}")
        current = out
    return ";".join(links)


def _finish(info: MediaInfo) -> str:
    width, height = even_size(info.width, info.height)
    if (width, height) == (info.width, info.height):
        return "format=yuv420p"
    grow = f"right={width - info.width}:bottom={height - info.height}"
    return f"pad={width}:{height}:0:0,fillborders={grow}:mode=smear,format=yuv420p"


def _encode_args(info: MediaInfo, keep_audio: bool, audio_input: int) -> list[str]:
    args = [*H264_ARGS, "-fps_mode", "passthrough"]
    if keep_audio and info.has_audio:
        codec = ["-c:a", "copy"] if info.audio_codec in _COPY_AUDIO else list(AAC_ARGS)
        args += ["-map", f"{audio_input}:a:0", *codec]
    else:
        args += ["-an"]
    # Nothing the uploader's device wrote about the clip (title, place, device) goes into the edit.
    return [*args, "-sn", "-dn", "-map_metadata", "-1", *MP4_ARGS]


def _render_with_frame_loop(info: MediaInfo, plan: Recipe, output: Path, keep_audio: bool,
                            on_progress: ProgressFn, cancel: CancelToken) -> None:
    ff = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    stylise = ["-filter_complex", _graph("0:v:0", plan.before), "-map", "[vout]"] if plan.before else []
    decode = [*ff, "-i", str(info.path), *(stylise or ["-map", "0:v:0"]), "-fps_mode", "passthrough",
              "-c:v", "rawvideo", "-pix_fmt", "bgr24",
              "-f", "matroska", "-allow_raw_vfw", "1", "-write_crc32", "0", "pipe:1"]
    audio = keep_audio and info.has_audio  # the source is opened a second time only for its audio
    encode = [*ff, "-f", "matroska", "-i", "pipe:0", *(["-i", str(info.path)] if audio else []),
              *(["-i", str(plan.clut)] if plan.clut else []),
              "-filter_complex", _graph("0:v", [*plan.after, _finish(info)], clut_input=1 + audio),
              "-map", "[vout]", *_encode_args(info, keep_audio, audio_input=1), "-y", str(output)]
    total = info.frame_count or max(1, round(info.duration * info.fps))

    def on_frame(done: int) -> None:
        cancel.raise_if_cancelled()
        on_progress(min(done / total, 1.0))

    with tempfile.TemporaryFile() as decode_err, tempfile.TemporaryFile() as encode_err:
        decoder = subprocess.Popen(decode, stdout=subprocess.PIPE, stderr=decode_err)
        encoder = subprocess.Popen(encode, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=encode_err)
        assert decoder.stdout is not None and encoder.stdin is not None
        finished, failure = False, None
        try:
            restyle_stream(decoder.stdout, encoder.stdin, info.width, info.height, plan.frame_fns, on_frame)
            encoder.stdin.close()
            finished = True
        except (BrokenPipeError, EngineError) as e:
            failure = e  # a process quit early; its own error output says why
        finally:
            _stop(decoder, encoder, kill=not finished)
        if decoder.returncode != 0 or (not finished and _read(decode_err).strip()):
            raise media_error(info.path, "decode", _read(decode_err))
        if encoder.returncode != 0 or not finished:
            stderr = _read(encode_err)
            if not stderr.strip() and isinstance(failure, EngineError):
                raise failure
            raise media_error(info.path, "encode the edit of", stderr)


def _stop(*procs: subprocess.Popen[bytes], kill: bool) -> None:
    """Wait for the processes to exit; after an error or a cancel, kill them first. Either way none
    outlives the edit."""
    for proc in procs:
        if kill and proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(BrokenPipeError):  # unflushed bytes for a gone process
                    pipe.close()
        proc.wait()


def _read(file: BinaryIO) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def restyle_stream(source: BinaryIO, sink: BinaryIO, width: int, height: int,
                   frame_fns: Sequence[FrameFn], on_frame: Callable[[int], None]) -> int:
    """Copy a Matroska stream of raw BGR frames from ``source`` to ``sink``, passing each frame
    through ``frame_fns``. Only pixels change: element headers, timestamps and everything else are
    copied byte for byte. Returns the number of frames.

    Matroska is EBML: each element is an ID and a size (both variable-length integers), then its
    body. Segment, Cluster and BlockGroup only contain other elements, so the parser steps into
    them (they may have "unknown" size when streamed); a SimpleBlock/Block body is a track number,
    a 2-byte timestamp, a flags byte and the frame.
    """
    frame_bytes = width * height * 3
    frames = 0
    while True:
        element_id, id_raw = _vint(source, keep_marker=True)
        if id_raw == b"":
            return frames
        size, size_raw = _vint(source, keep_marker=False)
        sink.write(id_raw + size_raw)
        if element_id in (_SEGMENT, _CLUSTER, _BLOCK_GROUP):
            continue
        if size in _UNKNOWN_SIZES:
            raise EngineError(f"The decoded stream has an element (0x{element_id:X}) of unknown size.")
        body = _read_exact(source, size)
        if element_id not in (_SIMPLE_BLOCK, _BLOCK):
            sink.write(body)
            continue
        header = 9 - body[0].bit_length() + 3  # track number vint, timestamp, flags
        if size - header != frame_bytes or body[header - 1] & 0x06:
            raise EngineError(f"A decoded frame has {size - header} bytes; {width}x{height} BGR needs "
                              f"{frame_bytes}.")
        frame = np.frombuffer(body, np.uint8, frame_bytes, header).reshape(height, width, 3)
        for fn in frame_fns:
            frame = fn(frame)
        if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
            raise EngineError(f"A look returned a {frame.shape} {frame.dtype} frame instead of "
                              f"{height}x{width}x3 uint8.")
        sink.write(body[:header])
        sink.write(np.ascontiguousarray(frame).data)
        frames += 1
        on_frame(frames)


def _vint(stream: BinaryIO, keep_marker: bool) -> tuple[int, bytes]:
    first = stream.read(1)
    if not first:
        return 0, b""
    length = 9 - first[0].bit_length()
    if length > 8:
        raise EngineError("The decoded stream is not valid Matroska (a zero length byte).")
    raw = first + _read_exact(stream, length - 1)
    value = int.from_bytes(raw, "big")
    return (value if keep_marker else value & ((1 << (7 * length)) - 1)), raw


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EngineError(f"The decoded stream ended {n - len(data)} bytes early.")
    return data
