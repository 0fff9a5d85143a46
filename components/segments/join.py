"""Join the edited segments back into one clip with the source's length, frame count and audio.

What the model returns is not quite what was sent: another frame rate, another size, a frame
short or long. Each edited file is put back on the plan's timeline (its rate, the first segment's
size, exactly the frames that were submitted), so the joined clip has the source's frame count by
construction. A segment with a lead crossfades it over the previous segment's tail (the same
source frames, edited twice); a segment that starts at a shot change is simply appended, since
the footage already cuts there.

The audio is the source's own, cut to the joined length: one continuous track, so a seam can
never click or drift. One ffmpeg process reads the files in order and streams them through one
filter graph into one encoder, so memory does not grow with the clip's length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from components.atomic import atomic_output
from components.errors import MediaError
from components.media.ffmpeg import AAC_ARGS, H264_ARGS, MP4_ARGS, CancelFn, run_streaming
from components.media.limits import FPS_TOLERANCE, fps_text
from components.media.probe import MediaInfo, probe
from components.segments.cut import fps_arg
from components.segments.plan import Segment, SegmentPlan
from components.units import human_duration

# How much an edited segment may come back short and still be padded by repeating its last frame;
# beyond this the model has dropped part of the edit, and a frozen picture would show it.
_MAX_PAD_SECONDS = 0.5


@dataclass(frozen=True)
class JoinResult:
    path: Path
    frame_count: int
    duration: float
    notes: list[str]  # plain words, e.g. "joined 4 segments with 0.5 s crossfades"


def join_segments(edited: Sequence[Path], plan: SegmentPlan, source: Path, out: Path, *, keep_audio: bool,
                  on_progress: Callable[[float], None] | None = None,
                  cancel: CancelFn | None = None) -> JoinResult:
    """Write ``out`` (H.264/AAC MP4): ``edited[i]`` standing for ``plan.segments[i]``, crossfaded at
    the leads, with ``source``'s audio when ``keep_audio`` and the source has any. Raises
    ``MediaError`` for a segment that came back far shorter than it was sent, or a join that
    does not come out at the plan's frame count."""
    if len(edited) != plan.count:
        raise MediaError(f"{len(edited)} edited segments came back for a plan of {plan.count}.",
                         fix="Edit every segment, then join them.", field="video")
    source, out = Path(source), Path(out)
    infos = [probe(p) for p in edited]
    width, height = infos[0].width - infos[0].width % 2, infos[0].height - infos[0].height % 2
    notes = [_joined_note(plan)]
    for seg, info in zip(plan.segments, infos, strict=True):
        notes += _fit_notes(seg, info, plan.fps, (width, height))
    graph = _video_graph(plan, (width, height))
    with_audio = keep_audio and probe(source).has_audio
    if with_audio:
        graph.append(f"[{plan.count}:a:0]atrim=end={plan.source_seconds:.6f}[a]")
        notes.append(f"audio: the source's, {human_duration(plan.source_seconds)}")
    elif keep_audio:
        notes.append("the source has no audio")
    # One decoder works at a time (the files are read in turn): more threads would only hold frames.
    inputs = [arg for p in edited for arg in ("-threads", "1", "-i", str(p))]
    args = [*inputs, *(["-i", str(source)] if with_audio else []), "-filter_complex", ";".join(graph),
            "-map", "[v]", *H264_ARGS, *(["-map", "[a]", *AAC_ARGS] if with_audio else ["-an"]),
            "-sn", "-dn", "-map_metadata", "-1", *MP4_ARGS]
    with atomic_output(out) as part:
        run_streaming([*args, "-y", str(part)], file=source, action="join the edited segments of",
                      duration=plan.source_seconds, on_progress=on_progress, cancel=cancel)
    result = probe(out)
    if result.frame_count != plan.frame_count:
        out.unlink(missing_ok=True)
        raise MediaError(f"The joined clip came out with {result.frame_count} frames; the source has "
                         f"{plan.frame_count}.", fix="Join the segments again.", field="video")
    return JoinResult(path=out, frame_count=plan.frame_count, duration=result.duration, notes=notes)


def _video_graph(plan: SegmentPlan, size: tuple[int, int]) -> list[str]:
    """Filters from inputs ``0:v`` .. ``n-1:v`` to ``[v]``: each edited file normalised to exactly its
    submitted frames, cut into its lead, its body and the tail the next segment's lead fades over,
    the leads and tails crossfaded pairwise, and every piece concatenated in order.

    Only the overlap frames pass through xfade: it copies every frame it passes on, and chained
    over whole segments it cost a third more CPU than the rest of the join. The pieces are
    consumed in clip order, so each file is read once, front to back."""
    fps, (width, height) = fps_arg(plan.fps), size
    steps, pieces = [], []
    for i, seg in enumerate(plan.segments):
        head = seg.lead_frames
        tail = plan.segments[i + 1].lead_frames if i + 1 < plan.count else 0
        parts = [(f"h{i}", 0, head)] if head else []
        parts.append((f"b{i}", head, seg.submitted_frames - tail))
        parts += [(f"t{i}", seg.submitted_frames - tail, seg.submitted_frames)] if tail else []
        steps.append(f"[{i}:v:0]setpts=PTS-STARTPTS,fps={fps},"
                     f"scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p,"
                     # a file a few frames short ends on copies of its last frame
                     f"tpad=stop_mode=clone:stop={seg.submitted_frames},"
                     f"split={len(parts)}" + "".join(f"[{name}_]" for name, _, _ in parts))
        steps += [f"[{name}_]trim=start_frame={start}:end_frame={end},setpts=PTS-STARTPTS[{name}]"
                  for name, start, end in parts]
        if head:
            seconds_long = f"{head / plan.fps:.6f}"
            steps.append(f"[t{i - 1}][h{i}]xfade=transition=fade:duration={seconds_long}:offset=0[f{i}]")
            pieces.append(f"[f{i}]")
        pieces.append(f"[b{i}]")
    # Frame numbers, not concat's sums of durations, give the timestamps: the output is on the
    # plan's grid whatever a piece's last frame claimed to last.
    steps.append("".join(pieces) + f"concat=n={len(pieces)}:v=1:a=0,setpts=N/({fps}*TB),fps={fps}[v]")
    return steps


def _joined_note(plan: SegmentPlan) -> str:
    fades = sum(1 for seg in plan.segments if seg.lead_frames)
    if plan.count == 1:
        return "one segment, nothing to join"
    line = f"joined {plan.count} segments"
    if fades:
        line += f" with {plan.overlap_frames / plan.fps:.2g} s crossfades at {fades} of the seams"
    return line


def _fit_notes(seg: Segment, info: MediaInfo, fps: float, size: tuple[int, int]) -> list[str]:
    """What was done to make one edited file fit its place, in plain words; refuses a file far
    shorter than what was sent."""
    name = f"segment {seg.index + 1}"
    notes = []
    if info.vfr or abs(info.fps - fps) > FPS_TOLERANCE:
        rate = f"variable {fps_text(info.fps)}" if info.vfr else fps_text(info.fps)
        notes.append(f"{name} came back at {rate} fps: re-timed to {fps:g} fps")
    if (info.width, info.height) != size:
        notes.append(f"{name} came back {info.width}x{info.height}: scaled to {size[0]}x{size[1]}")
    seconds_long = info.frame_count / info.fps if info.frame_count and info.fps else info.duration
    frames = round(seconds_long * fps)
    missing = seg.submitted_frames - frames
    if missing * 1.0 > _MAX_PAD_SECONDS * fps:
        raise MediaError(
            f"Edited {name} lasts {human_duration(seconds_long)}; it was sent as "
            f"{human_duration(seg.billed_seconds)}, so part of its edit is missing.",
            fix="Edit that segment again.", field="video")
    if missing > 0:
        notes.append(f"{name} came back {missing} frame{'s' if missing > 1 else ''} short: "
                     "its last frame is shown longer")
    elif missing < 0:
        notes.append(f"{name} came back {-missing} frame{'s' if missing < -1 else ''} long: "
                     "the extra frames were dropped")
    return notes
