"""A filter graph written in FFmpeg's own text syntax, run in this process on frames PyAV decoded.

The looks are ffmpeg filter chains, and the ffmpeg binary runs them from ``-filter_complex`` text.
PyAV runs the same libavfilter in process but takes a graph only filter by filter, so this module
reads the text the binary would get (labelled chains, ``;`` between chains, ``,`` within one, quoted
option values) and adds its filters and links to a PyAV graph: one description of a look, whichever
side runs it. Option values reach libavfilter as written; it parses them (and their quotes) itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

import av.error
from av.filter import Graph
from av.filter.context import FilterContext
from av.video.frame import VideoFrame

OUTPUT = "vout"  # the label the graph's one output carries


@dataclass(frozen=True)
class Source:
    """What one input label is fed: frames of this size, pixel format and time base."""

    width: int
    height: int
    format: str
    time_base: Fraction

    @classmethod
    def like(cls, frame: VideoFrame) -> Source:
        return cls(frame.width, frame.height, frame.format.name, Fraction(frame.time_base))


class FilterGraph:
    """``text``'s filters fed through the labels ``sources`` names, read from ``[vout]``."""

    def __init__(self, text: str, sources: Mapping[str, Source]) -> None:
        self._graph = Graph()
        self._inputs = {label: self._graph.add_buffer(width=s.width, height=s.height, format=s.format,
                                                      time_base=s.time_base, name=f"in_{i}")
                        for i, (label, s) in enumerate(sources.items())}
        self._sink = self._graph.add("buffersink")
        out, pad = _build(self._graph, text, self._inputs)[OUTPUT]
        out.link_to(self._sink, pad, 0)
        self._graph.configure()

    def push(self, label: str, frame: VideoFrame | None) -> None:
        """Feed one frame to the input ``label``; ``None`` ends that input."""
        self._inputs[label].push(frame)

    def pull(self) -> Iterator[VideoFrame]:
        """Every frame the graph can give now (after the last input ended: every frame left)."""
        while True:
            try:
                yield self._sink.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return


def _build(graph: Graph, text: str, inputs: Mapping[str, FilterContext]
           ) -> dict[str, tuple[FilterContext, int]]:
    """Add ``text``'s filters to ``graph``; return the labelled pads nothing consumed, as
    (filter, output pad). A filter takes its labelled inputs, or else the previous filter of its
    chain; an output pad is labelled, or else feeds the next filter of the chain."""
    pads = {label: (source, 0) for label, source in inputs.items()}
    labels: list[str] = []  # input labels read since the last filter
    current: FilterContext | None = None  # the filter whose output labels are being read
    labelled = 0  # output pads of ``current`` labelled so far
    previous: tuple[FilterContext, int] | None = None  # the chain's unlabelled output so far
    for kind, value in _tokens(text):
        if kind == "label" and current is not None:
            pads[value] = (current, labelled)
            labelled += 1
        elif kind == "label":
            labels.append(value)
        elif kind == "filter":
            name, _, args = value.partition("=")
            node = graph.add(name.strip(), args or None)
            feeds = [pads.pop(label) for label in labels] or ([previous] if previous else [])
            for i, (source, pad) in enumerate(feeds):
                source.link_to(node, pad, i)
            labels, current, labelled = [], node, 0
        else:  # "," continues the chain from the next unlabelled pad; ";" starts a new chain
            previous = (current, labelled) if kind == "," and current is not None else None
            current = None
    return pads


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    """("label", name), ("filter", "name=options") and the separators "," and ";", in order.
    Quotes and backslashes keep separators inside option values, as FFmpeg's parser does."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "[":
            end = text.index("]", i)
            yield "label", text[i + 1:end]
            i = end + 1
        elif ch in ",;":
            yield ch, ch
            i += 1
        else:
            start, quoted = i, False
            while i < len(text) and (quoted or text[i] not in "[,;"):
                if text[i] == "\\":
                    i += 1
                elif text[i] == "'":
                    quoted = not quoted
                i += 1
            yield "filter", text[start:i].strip()
