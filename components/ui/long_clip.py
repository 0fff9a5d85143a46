"""The long-clip offer: beside trimming, "edit all of it in segments", with its plan on a timeline.

The plan shown (how many segments, where, what the overlap adds to the bill) is the estimate that
Generate admits, from ``EditService.plan``: arithmetic on the clip's length, so the offer appears at
once and no visitor's preview waits behind another's decoding. The job itself finds the shot changes
and moves the seams onto them; the bill is per second, so that barely moves the price.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from components.config import MODEL_NAME, PRICE_NOTE, Settings
from components.edit.checks import check_long_clip
from components.edit.modes import MAX_OVERLAP_SECONDS
from components.errors import Finding, StudioError
from components.media.probe import probe
from components.segments.plan import SegmentPlan
from components.ui.deps import Deps
from components.ui.session import hf_user, user_key
from components.ui.video_panel import findings_html
from components.units import human_duration


@dataclass(frozen=True)
class LongClipHandles:
    group: gr.Column
    use: gr.Checkbox  # edit the whole clip in segments instead of trimming it
    overlap: gr.Slider  # seconds of crossfade between segments (billed)
    timeline: gr.HTML
    plan: gr.State  # SegmentPlan.to_dict() of the clip shown, or None
    findings: gr.State  # list[Finding]: what stands in the way of segmenting this clip


def build(settings: Settings) -> LongClipHandles:
    with gr.Column(visible=False, elem_id="long-clip", variant="panel") as group:
        use = gr.Checkbox(False, label="Edit all of it in segments", elem_id="use-segments")
        overlap = gr.Slider(0.0, MAX_OVERLAP_SECONDS, value=0.0, step=0.25,
                            label="Crossfade between segments (s): hides seams, each second is billed",
                            elem_id="segment-overlap")
        timeline = gr.HTML("", elem_id="segment-timeline", padding=False)
    return LongClipHandles(group, use, overlap, timeline, gr.State(None), gr.State([]))


def wire(h: LongClipHandles, video: gr.Video, duration: gr.State, tier: gr.Radio, key_set: gr.State,
         deps: Deps) -> None:
    """The offer is priced for the engine this visitor's Generate uses (asked each time: a key set or
    forgotten, ``key_set``, changes it); without a fal engine the plan is free and Kling O1's price
    is only what a key would cost."""
    settings = deps.settings

    def on_clip(path: str | None, seconds: float | None, overlap: float | None, model: str | None,
                request: gr.Request, profile: gr.OAuthProfile | None):
        long_enough = bool(seconds and settings.video.max_seconds < seconds)
        if not path or not long_enough:
            return gr.Column(visible=False), gr.Checkbox(value=False), "", None, []
        clip = deps.files.optional(path, "The clip", "video")
        findings = check_long_clip(probe(clip), settings) if clip else []
        if any(f.level == "error" for f in findings) or clip is None:
            return (gr.Column(visible=True), gr.Checkbox(value=False, interactive=False),
                    findings_html(findings), None, findings)
        try:
            plan = deps.service.plan(path, overlap or 0.0)
        except StudioError as error:
            finding = Finding("error", "segments", error.message, error.fix)
            return (gr.Column(visible=True), gr.Checkbox(value=False, interactive=False),
                    findings_html([finding]), None, [finding])
        paid = deps.service.engine(user_key(deps.keys, request), hf_user(profile)).charges
        return (gr.Column(visible=True),
                gr.Checkbox(interactive=True, label=f"Edit all of it in segments (about {plan.count}, "
                                                    f"{_price(plan, model, settings, paid)})"),
                timeline_html(plan, model, settings, paid), plan.to_dict(), [])

    gr.on([duration.change, h.overlap.release, tier.change, key_set.change], on_clip,
          [video, duration, h.overlap, tier],
          [h.group, h.use, h.timeline, h.plan, h.findings], show_progress="minimal",
          show_progress_on=h.timeline, trigger_mode="always_last")


def billed_seconds(seconds: float | None, plan: dict | None, use_segments: bool, takes: int) -> float | None:
    """What one Generate bills, in seconds of video: the segments' files (overlap included) or
    the clip once per take."""
    if use_segments and plan:
        return SegmentPlan.from_dict(plan).billed_seconds
    return None if seconds is None else seconds * max(1, int(takes or 1))


def _price(plan: SegmentPlan, model: str | None, settings: Settings, paid: bool) -> str:
    tier = settings.tier(model) or settings.tiers[0]
    price = f"${settings.cost(plan.billed_seconds, tier.id):.2f} on {tier.name}"
    return price if paid else f"free here; {price} with a fal key"


def timeline_html(plan: SegmentPlan, model: str | None, settings: Settings, paid: bool) -> str:
    """The segments as blocks on the clip's length, the price below (``paid``: on a fal engine; else
    the local preview edits it free and the price is what a key would cost)."""
    total = plan.source_seconds or 1.0
    blocks = []
    for seg in plan.segments:
        start, end = seg.start_frame / plan.fps, seg.end_frame / plan.fps
        left, width = 100 * start / total, 100 * (end - start) / total
        title = f"Segment {seg.index + 1}: {human_duration(start)}-{human_duration(end)}"
        if seg.lead_frames:
            title += f", with {human_duration(seg.lead_frames / plan.fps)} of crossfade before"
        blocks.append(f'<div class="seg" style="left:{left:.3f}%;width:{width:.3f}%" '
                      f'title="{html.escape(title)}"><span>{seg.index + 1}</span></div>')
    extra = (f"; the crossfades add {human_duration(plan.extra_seconds)}" if plan.extra_seconds else "")
    tier = settings.tier(model) or settings.tiers[0]
    price = (f"<b>${settings.cost(plan.billed_seconds, tier.id):.2f}</b> on {html.escape(tier.name)} "
             f"({PRICE_NOTE})")
    editor, bill = ((MODEL_NAME, f"Total billed: {human_duration(plan.billed_seconds)}, about {price}.")
                    if paid else
                    ("The local preview", f"Total: {human_duration(plan.billed_seconds)}, edited free here; "
                                          f"with a fal key it would bill about {price}."))
    return (f'<div class="segment-plan" data-segments="{plan.count}">'
            f'<div class="seg-track">{"".join(blocks)}</div>'
            f'<p>{html.escape(plan.describe())}</p>'
            f"<p>When it runs, the studio finds the clip's shot changes and moves the seams onto them "
            f"(which can add a segment; the bill is per second). {editor} edits each segment with "
            f"the same instruction and references, all at once; the studio joins them into one clip "
            f"of the source's length{extra}. {bill}</p></div>")
