"""The local preview engine: real, motion-preserving edits on this machine, with no key and no
network, and honest notes about what only Kling O1 can do.

It reads the instruction into a plan (plan.py), borrows the palette of the referenced pictures
(palette.py) and renders the looks (looks.py, render.py). The work is CPU-bound, so it runs in a
worker thread; progress events are handed back to the event loop's thread, where the job runner
expects them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from components.config import MODEL_NAME, Settings
from components.edit.labels import LabelMatch
from components.edit.request import EditRequest
from components.engines.base import CancelToken, EditResult, ProgressCallback, ProgressEvent
from components.engines.local.palette import lab_stats, load_picture, video_samples, write_transfer_clut
from components.engines.local.plan import EditPlan, plan_edit
from components.engines.local.render import even_size, recipe, render
from components.errors import InputError
from components.media.probe import MediaInfo, probe

__all__ = ["LocalEngine"]

OUTPUT_NAME = "edited.mp4"
_PROGRESS_EVERY_S = 0.25
TAKE_HUE_STEP = 40  # degrees between local takes: enough to tell them apart at a glance


class LocalEngine:
    name = "local"
    concurrency_key = "local"  # CPU-bound: its own, small pool of slots
    can_resume = False  # nothing remote to reattach to

    def __init__(self, settings: Settings | None = None) -> None:
        """``settings`` is taken for parity with FalEngine: the preview's limits are its clip's own."""

    def check(self, request: EditRequest) -> None:
        """An instruction the preview would return unchanged is refused before the job exists."""
        plan_edit(request.prompt).require_something()

    async def edit(self, request: EditRequest, workdir: Path, on_event: ProgressCallback,
                   cancel: CancelToken) -> EditResult:
        loop = asyncio.get_running_loop()

        def emit(event: ProgressEvent) -> None:
            loop.call_soon_threadsafe(on_event, event)

        try:
            return await asyncio.to_thread(_edit, request, Path(workdir), emit, cancel)
        except asyncio.CancelledError:
            cancel.cancel()  # the awaiting task was cancelled: stop the worker thread's ffmpeg too
            raise

    async def resume(self, request_id: str, workdir: Path, on_event: ProgressCallback,
                     cancel: CancelToken) -> EditResult:
        """Never called (``can_resume`` is False): a local preview has no request to reattach to."""
        raise TypeError(f"the local preview cannot resume request {request_id!r}")


def _edit(request: EditRequest, workdir: Path, emit: ProgressCallback, cancel: CancelToken) -> EditResult:
    started = time.monotonic()
    timings: dict[str, float] = {}

    def event(phase, message: str, fraction: float | None = None) -> None:
        emit(ProgressEvent(phase, message, fraction=fraction, elapsed=time.monotonic() - started))

    event("preparing", "Reading the instruction and the clip", 0.0)
    plan = plan_edit(request.prompt)
    plan.require_something()
    info = probe(request.video)
    workdir.mkdir(parents=True, exist_ok=True)
    clut = None
    if plan.references:
        cancel.raise_if_cancelled()
        event("preparing", "Measuring the palette of " + " and ".join(r.label for r in plan.references), 0.02)
        clut = _palette_clut(request, plan.references, info, workdir / "palette_hald.png")
    timings["preparing"] = time.monotonic() - started

    output = workdir / OUTPUT_NAME
    what = ", ".join(plan.applied())
    render_start = last = time.monotonic()

    def on_progress(fraction: float) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= _PROGRESS_EVERY_S or fraction >= 1.0:
            last = now
            event("rendering", f"Rendering {what}: {fraction:.0%}", 0.05 + 0.94 * fraction)

    cancel.raise_if_cancelled()
    event("rendering", f"Rendering {what}", 0.05)
    steps = recipe(plan.looks, info.height, clut)
    take = _take(request)
    if take:  # something to choose between, said plainly in the notes
        steps = replace(steps, after=(*steps.after, f"hue=h={take * TAKE_HUE_STEP}"))
    render(info, steps, output, keep_audio=request.keep_audio, on_progress=on_progress, cancel=cancel)
    timings["rendering"] = time.monotonic() - render_start
    event("done", "Local preview ready", 1.0)
    return EditResult(video=output, engine="local", timings=timings, notes=_notes(plan, info, request))


def _palette_clut(request: EditRequest, references: tuple[LabelMatch, ...], info: MediaInfo,
                  path: Path) -> Path:
    """Pool the referenced pictures' colours (an element's frontal and reference images) and bake
    the transfer from the clip's own colours into a CLUT."""
    pictures = []
    for ref in references:
        attached = request.images if ref.kind == "Image" else request.elements
        if ref.index > len(attached):
            have = f"{len(attached)} {ref.kind.lower()}{'' if len(attached) == 1 else 's'}"
            raise InputError(f"The instruction mentions {ref.label}, but only {have} attached.",
                             fix=f"Attach {ref.label} or remove it from the instruction.", field="prompt")
        item = attached[ref.index - 1]
        files = [item] if ref.kind == "Image" else item.files()
        field = f"{ref.kind.lower()}s[{ref.index - 1}]"
        pictures += [load_picture(f, field) for f in files]
    if not pictures:
        raise InputError(f"{references[0].label} has no picture to take colours from.",
                         fix="Attach a frontal image to the element.", field="elements")
    source = lab_stats(video_samples(info.path, info.frame_count or round(info.duration * info.fps)))
    return write_transfer_clut(path, source, lab_stats(pictures))


def _notes(plan: EditPlan, info: MediaInfo, request: EditRequest) -> list[str]:
    notes = plan.notes()
    take = _take(request)
    if take is not None:
        turned = f"its colours are turned {take * TAKE_HUE_STEP}° round the hue wheel" if take else \
            "the other takes turn its colours round the hue wheel"
        notes.append(f"Take {take + 1}: the local preview cannot invent a different take, so {turned}; "
                     f"{MODEL_NAME} makes a genuinely different take each run.")
    if request.keep_audio and not info.has_audio:
        notes.append("The source clip has no audio to keep.")
    size = even_size(info.width, info.height)
    if size != (info.width, info.height):
        notes.append(f"Padded {info.width}x{info.height} to {size[0]}x{size[1]} by repeating the edge: "
                     f"browsers play H.264 only in even sizes.")
    return notes


def _take(request: EditRequest) -> int | None:
    """Which take (from 0) this edit is, when it is one of several."""
    part = request.extra.get("part")
    return part if request.extra.get("part_of") == "takes" and isinstance(part, int) else None
