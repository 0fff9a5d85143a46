"""Turn a list of looks into pixels: ffmpeg filtergraphs, plus an OpenCV frame loop when a look
needs one.

Colour-only edits run as one ffmpeg process (decode -> filters -> x264): nothing passes through
Python. Looks that need OpenCV run in this process (frame_loop.py): PyAV decodes each frame with
its timestamp, libavfilter runs the ffmpeg stylisers, OpenCV the rest, libavfilter the palette,
grade and texture, and x264 encodes the frame under its own timestamp. Both read the same graph
text (``_graph``), so a look is written once whichever side runs it. Frame count, duration, size
and timing therefore match the source, a variable frame rate included; only an odd width or
height grows by one pixel (see ``even_size``), because browsers play H.264 4:2:0 only in even
sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from components.atomic import atomic_output
from components.engines.base import CancelToken
from components.engines.local.frame_loop import render_frames
from components.engines.local.looks import STAGES, FrameFn, Look, geometry
from components.media.ffmpeg import AAC_ARGS, H264_ARGS, MP4_ARGS, run_streaming
from components.media.probe import MediaInfo

ProgressFn = Callable[[float], None]

_COPY_AUDIO = {"aac", "mp3"}  # codecs an mp4 carries that every browser plays: copied as they are
_CLUT = "<palette>"  # marks where the palette CLUT goes among the chains
# A decoded frame as it is stored -> upright, for each display rotation (counter-clockwise degrees):
# what ffmpeg inserts on its own when it decodes a rotated clip, and PyAV, a library, leaves to us.
_UPRIGHT = {90: ("transpose=cclock",), 180: ("hflip,vflip",), 270: ("transpose=clock",)}


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
    fires (no ffmpeg is left running), ``MediaError`` naming the source when it cannot be read;
    either way no partial ``output`` is left."""
    if plan.frame_fns:
        render_frames(info, _graph("0:v", [*_UPRIGHT.get(info.rotation, ()), *plan.before, "format=bgr24"]),
                      plan.frame_fns, _graph("0:v", [*plan.after, _finish(info)], clut_input=1), plan.clut,
                      output, size=even_size(info.width, info.height), audio=_audio(info, keep_audio),
                      on_progress=on_progress, cancel=cancel)
        return
    inputs = ["-i", str(info.path)] + (["-i", str(plan.clut)] if plan.clut else [])
    graph = _graph("0:v", [*plan.before, *plan.after, _finish(info)], clut_input=1)
    with atomic_output(output) as part:
        run_streaming([*inputs, "-filter_complex", graph, "-map", "[vout]",
                       *_encode_args(info, keep_audio, audio_input=0), "-y", str(part)],
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


def _audio(info: MediaInfo, keep_audio: bool) -> str | None:
    """How the edit carries the source's sound: "copy" for what every browser plays, else "aac"."""
    if not (keep_audio and info.has_audio):
        return None
    return "copy" if info.audio_codec in _COPY_AUDIO else "aac"


def _encode_args(info: MediaInfo, keep_audio: bool, audio_input: int) -> list[str]:
    args = [*H264_ARGS, "-fps_mode", "passthrough"]
    audio = _audio(info, keep_audio)
    if audio is None:
        args += ["-an"]
    else:
        args += ["-map", f"{audio_input}:a:0", *(["-c:a", "copy"] if audio == "copy" else AAC_ARGS)]
    # Nothing the uploader's device wrote about the clip (title, place, device) goes into the edit.
    return [*args, "-sn", "-dn", "-map_metadata", "-1", *MP4_ARGS]
