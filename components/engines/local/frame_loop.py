"""The OpenCV looks' frame loop, in this process: PyAV decodes each frame with its timestamp, the
ffmpeg stylisers run on it in libavfilter, the OpenCV ones on its pixels as a numpy array, then the
palette, grade, texture and finishing filters, and x264 encodes it under the same timestamp.

So a variable-frame-rate clip keeps its timing to the tick of its own time base, and frame count,
duration and size match the source's. Three threads share the work as three processes around a
pipe used to: one decodes and stylises, the caller's runs OpenCV and reports progress, one filters
and encodes. PyAV, libavfilter, numpy and OpenCV release the GIL while they work, so on two cores
decoding and encoding overlap the OpenCV work; at most ``_QUEUED`` frames wait between two stages,
so memory stays flat whatever the clip's length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from components.atomic import atomic_output
from components.engines.base import CancelToken
from components.engines.local.looks import FrameFn
from components.errors import EngineError
from components.media.ffmpeg import AAC_BITRATE, H264_CODEC, H264_OPTIONS, H264_PIXEL_FORMAT, MP4_OPTIONS
from components.media.filtergraph import FilterGraph, Source
from components.media.probe import MediaInfo
from components.media.reader import failure, open_media, video_stream

_QUEUED = 2  # frames waiting between two stages: enough to keep both busy (2.6 MB each at 720p)
_END = object()  # the last item a stage hands on


class _Frame:
    """A decoded, stylised frame on its way to the encoder: its BGR pixels and when it is shown."""

    __slots__ = ("pixels", "pts", "time_base")

    def __init__(self, pixels: np.ndarray, pts: int, time_base: Fraction) -> None:
        self.pixels, self.pts, self.time_base = pixels, pts, time_base


def render_frames(info: MediaInfo, before: str, frame_fns: Sequence[FrameFn], after: str,
                  clut: Path | None, output: Path, *, size: tuple[int, int], audio: str | None,
                  on_progress: Callable[[float], None], cancel: CancelToken) -> None:
    """Write ``output`` (H.264 at ``size`` in MP4, +faststart): each frame of ``info``'s clip
    through ``before`` (graph text from ``[0:v]`` to ``[vout]``, ending in bgr24 at the displayed
    size), ``frame_fns``, then ``after`` (from ``[0:v]``, with the ``clut`` picture at ``[1:v]``,
    ending at ``size``). ``audio`` is "copy", "aac" (re-encoded) or None (left out).

    Raises ``JobCancelled`` when ``cancel`` fires, ``EngineError`` for a look that returns the
    wrong pixels, and ``MediaError`` naming the source when it cannot be decoded or its edit
    encoded; no partial ``output`` survives any of them."""
    with open_media(info.path, "decode") as source, atomic_output(output) as part, \
            av.open(str(part), "w", format="mp4", options=MP4_OPTIONS) as sink:
        video = video_stream(source)
        assert video is not None  # the clip was probed
        audio_in = source.streams.audio[0] if audio else None
        encoder = _video_encoder(sink, video, size)
        audio_out = _audio_output(sink, audio_in, audio)
        decoded: queue.Queue[Any] = queue.Queue(_QUEUED)
        edited: queue.Queue[Any] = queue.Queue(_QUEUED)
        stop = threading.Event()  # the caller gave up: stages stop at their next item, nothing is flushed

        def read() -> None:
            for item in _decode(source, video, audio_in, audio == "copy", before):
                if stop.is_set():
                    return
                decoded.put(item)

        def write() -> None:
            graph = _after_graph(after, clut, info, video)
            while (item := edited.get()) is not _END:
                _encode(item, graph, sink, encoder, audio_out)
            if not stop.is_set():
                _flush(graph, sink, encoder, audio_out if audio == "aac" else None)

        reader = _Stage("frame-loop-read", read, done=lambda: decoded.put(_END))
        writer = _Stage("frame-loop-write", write, drain=edited,
                        wrap=lambda e: failure(info.path, "encode the edit of", e))
        reader.start()
        writer.start()
        total, done, ended = info.frame_count or max(1, round(info.duration * info.fps)), 0, False
        try:
            while (item := decoded.get()) is not _END:
                if writer.failure is not None:
                    raise writer.failure
                if isinstance(item, _Frame):
                    item.pixels = _restyle(item.pixels, frame_fns)
                    done += 1
                edited.put(item)
                if isinstance(item, _Frame):
                    cancel.raise_if_cancelled()
                    on_progress(min(done / total, 1.0))
            ended = True
            if reader.failure is not None:
                raise reader.failure
        finally:
            if not ended or reader.failure is not None:
                stop.set()
            while not ended and decoded.get() is not _END:  # the reader stops at its next item
                pass
            edited.put(_END)
            reader.join()
            writer.join()
        if writer.failure is not None:
            raise writer.failure


class _Stage(threading.Thread):
    """One stage in its own thread. What it raises is kept for the caller's thread to raise (an
    FFmpeg error first put in the user's words by ``wrap``). After a failure it keeps taking items
    from ``drain`` until the end, and ``done`` always runs, so no other stage ever waits on it."""

    def __init__(self, name: str, work: Callable[[], None], *, done: Callable[[], None] | None = None,
                 drain: queue.Queue[Any] | None = None,
                 wrap: Callable[[av.error.FFmpegError], Exception] | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self._work, self._done, self._drain, self._wrap = work, done, drain, wrap
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as e:  # handed to the caller's thread, which raises it
            self.failure = self._wrap(e) if self._wrap and isinstance(e, av.error.FFmpegError) else e
            while self._drain is not None and self._drain.get() is not _END:
                pass
        finally:
            if self._done is not None:
                self._done()


def _decode(source: InputContainer, video: VideoStream, audio: AudioStream | None, copy_audio: bool,
            before: str) -> Iterator[_Frame | Packet | AudioFrame]:
    """The clip in file order: each video frame through ``before``, as BGR pixels; the audio as
    packets to copy, or as frames to re-encode. Timestamps are moved so the clip starts at 0, as
    ffmpeg does, or an MP4 player would wait out a stream that starts at 1.4 s (MPEG-TS)."""
    video.thread_type = "AUTO"  # frame and slice threads: decoding keeps up with the OpenCV stage
    start = Fraction(source.start_time or 0, 1_000_000)
    graph: FilterGraph | None = None
    for packet in source.demux(*([video, audio] if audio else [video])):
        shift = round(start / packet.stream.time_base)
        if packet.stream.type == "audio" and copy_audio:
            if packet.size:  # not the empty packet that ends the demux
                packet.pts, packet.dts = _minus(packet.pts, shift), _minus(packet.dts, shift)
                yield packet
            continue
        try:
            frames = packet.decode()  # the empty last packet drains the decoder
        except av.error.InvalidDataError:
            continue  # a damaged packet: ffmpeg skips it and goes on, and so does the preview
        for frame in frames:
            frame.pts = _minus(frame.pts if frame.pts is not None else frame.dts, shift)
            if isinstance(frame, AudioFrame):
                yield frame
                continue
            graph = graph or FilterGraph(before, {"0:v": Source.like(frame)})
            graph.push("0:v", frame)
            yield from (_Frame(f.to_ndarray(), f.pts, f.time_base) for f in graph.pull())
    if graph is not None:
        graph.push("0:v", None)
        yield from (_Frame(f.to_ndarray(), f.pts, f.time_base) for f in graph.pull())


def _minus(ticks: int | None, shift: int) -> int | None:
    return None if ticks is None else ticks - shift


def _restyle(pixels: np.ndarray, frame_fns: Sequence[FrameFn]) -> np.ndarray:
    """The OpenCV looks in order; each must hand back a frame of the same shape, BGR uint8."""
    shape = pixels.shape
    for fn in frame_fns:
        pixels = fn(pixels)
    if pixels.shape != shape or pixels.dtype != np.uint8:
        raise EngineError(f"A look returned a {pixels.shape} {pixels.dtype} frame instead of "
                          f"{shape[0]}x{shape[1]}x3 uint8.")
    return pixels


def _after_graph(after: str, clut: Path | None, info: MediaInfo, video: VideoStream) -> FilterGraph:
    """The filters after OpenCV, fed BGR frames at the displayed size and, at ``[1:v]``, the CLUT
    picture once: haldclut keeps using its last picture, as it does for a PNG input of ffmpeg's."""
    time_base = Fraction(video.time_base)
    if clut is None:
        return FilterGraph(after, {"0:v": Source(info.width, info.height, "bgr24", time_base)})
    with av.open(str(clut)) as image:
        picture = next(image.decode(video=0))
    picture.pts, picture.time_base = 0, time_base
    graph = FilterGraph(after, {"0:v": Source(info.width, info.height, "bgr24", time_base),
                                "1:v": Source.like(picture)})
    graph.push("1:v", picture)
    graph.push("1:v", None)
    return graph


def _video_encoder(sink: OutputContainer, video: VideoStream, size: tuple[int, int]) -> VideoStream:
    """x264 with the studio's settings, in the source's time base: each frame keeps its timestamp
    (ffmpeg's ``-fps_mode passthrough``). The average rate is what x264's rate control plans by.
    Frame threads, as the ffmpeg binary runs x264: PyAV's default of slice threads cuts every frame
    in two, which costs bytes and quality.

    Unlike a fresh ffmpeg process, this long-lived one hands x264 recycled memory, and x264's
    analysis reads some it never wrote: two renders of one edit can differ in a few coding
    decisions (invisibly: under 0.5 of 255 on average, measured), not in their look or timing."""
    rate = video.average_rate or video.guessed_rate or Fraction(25)
    stream = sink.add_stream(H264_CODEC, rate=rate, options=dict(H264_OPTIONS))
    stream.width, stream.height = size
    stream.pix_fmt = H264_PIXEL_FORMAT
    stream.codec_context.thread_type = "FRAME"
    stream.codec_context.time_base = Fraction(video.time_base)
    return stream


def _audio_output(sink: OutputContainer, audio: AudioStream | None, how: str | None) -> AudioStream | None:
    """The output's audio stream: the source's packets as they are, or AAC at the studio's rate."""
    if audio is None:
        return None
    if how == "copy":
        return sink.add_stream_from_template(audio)
    stream = sink.add_stream("aac", rate=audio.sample_rate, layout=audio.layout.name)
    stream.bit_rate = AAC_BITRATE
    return stream


def _encode(item: _Frame | Packet | AudioFrame, graph: FilterGraph, sink: OutputContainer,
            encoder: VideoStream, audio: AudioStream | None) -> None:
    if isinstance(item, Packet):
        item.stream = audio
        sink.mux(item)
    elif isinstance(item, AudioFrame):
        sink.mux(audio.encode(item))
    else:
        frame = av.VideoFrame.from_ndarray(item.pixels, format="bgr24")
        frame.pts, frame.time_base = item.pts, item.time_base
        graph.push("0:v", frame)
        for out in graph.pull():
            sink.mux(encoder.encode(out))


def _flush(graph: FilterGraph, sink: OutputContainer, encoder: VideoStream,
           audio_encoder: AudioStream | None) -> None:
    """What the graph and the encoders still hold, once the last frame is in."""
    graph.push("0:v", None)
    for out in graph.pull():
        sink.mux(encoder.encode(out))
    sink.mux(encoder.encode(None))
    if audio_encoder is not None:
        sink.mux(audio_encoder.encode(None))
