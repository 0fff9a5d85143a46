"""Pre-flight: everything that can be known to fail before a byte is uploaded or a cent is spent.

Each check returns ``Finding``s instead of raising, so the UI can show every problem at once next
to the field it belongs to; ``ensure_ok`` turns the errors among them into one ``InputError``.
Field names follow the request's shape: "prompt", "video", "references", "images[1]",
"elements[0].frontal", "elements[0].references[2]" (0-based, like the lists they index); the
sentences count from 1, like the labels the user sees.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from components.config import MODEL_NAME, Settings
from components.edit import labels
from components.edit.images import inspect_image
from components.edit.request import EditRequest, Element
from components.errors import Finding, InputError, MediaError
from components.media.conform import fit_size
from components.media.limits import check_video, measure
from components.media.probe import MediaInfo, probe
from components.units import human_count, human_duration, seconds


def visible_text(text: str) -> str:
    """``text`` without white space and invisible format characters (zero-width space and joiners,
    BOM, direction marks): what is left is what the model would actually read."""
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) not in _INVISIBLE)


_INVISIBLE = {"Cf", "Cc", "Zs", "Zl", "Zp"}


def check_prompt(prompt: str, n_images: int, n_elements: int, settings: Settings) -> list[Finding]:
    """Empty or too long, labels that point at nothing or are misspelt, attachments never mentioned."""
    if not visible_text(prompt):
        return [Finding("error", "prompt", "The prompt is empty." if not prompt.strip() else
                        "The prompt has no visible words (only spaces or invisible characters).",
                        "Describe the edit, e.g. “Replace the character with @Element1”.")]
    findings: list[Finding] = []
    limit = settings.prompt_max_chars
    if len(prompt) > limit:
        findings.append(Finding(
            "error", "prompt", f"The prompt is too long: {len(prompt):,} / {limit:,} characters.",
            f"Shorten it by {len(prompt) - limit:,} characters."))

    attached = {"Image": n_images, "Element": n_elements}
    mentioned = {(m.kind, m.index) for m in labels.find_labels(prompt)}
    for kind, index in sorted(mentioned):
        if index > attached[kind]:
            findings.append(_dangling(kind, index, attached[kind]))

    for miss in labels.find_near_misses(prompt):
        if miss.suggestion:
            fix = (f"Did you mean {miss.suggestion}? Write it exactly like that "
                   "(capital letter, no leading zero).")
        else:
            fix = f"Labels count from 1: {labels.label(miss.kind, 1)} is the first {miss.kind.lower()}."
        findings.append(Finding("error", "prompt",
                                f"“{miss.text}” is not a label {MODEL_NAME} knows.", fix))

    markers = [marker for _, _, marker in labels.find_removed_markers(prompt)]
    for marker in dict.fromkeys(markers):  # one finding per kind of marker, however often it appears
        times = markers.count(marker)
        where = "where a removed attachment was mentioned" if times == 1 else \
            f"{times} times, where a removed attachment was mentioned"
        findings.append(Finding(
            "error", "prompt", f"The prompt still says “{marker}” {where}.",
            "Insert another label there or reword that part."))

    for kind, field in (("Image", "images"), ("Element", "elements")):
        for index in range(1, attached[kind] + 1):
            if (kind, index) not in mentioned:
                tag = labels.label(kind, index)
                findings.append(Finding(
                    "warning", f"{field}[{index - 1}]",
                    f"{kind} {index} is attached but the prompt never mentions {tag} — "
                    "Kling may ignore it.",
                    f"Insert {tag} where it should be used, or remove the {kind.lower()}."))
    return findings


def check_references(images: Sequence[Path], elements: Sequence[Element],
                     settings: Settings) -> list[Finding]:
    """How many references, the shape of each element, and every image file by its content."""
    findings: list[Finding] = []
    total = len(images) + len(elements)
    if total > settings.max_references:
        findings.append(Finding(
            "error", "references",
            f"{total} references are attached ({human_count(len(images), 'image')} + "
            f"{human_count(len(elements), 'element')}); {MODEL_NAME} takes at most "
            f"{settings.max_references} images and elements together.",
            f"Remove {total - settings.max_references}."))

    for i, path in enumerate(images):
        findings.extend(_image_findings(path, settings, f"images[{i}]"))
    for i, element in enumerate(elements):
        tag = labels.label("Element", i + 1)
        if element.frontal is None:
            findings.append(Finding("error", f"elements[{i}].frontal",
                                    f"Element {i + 1} has no frontal image.",
                                    f"Add a front view of the character or object {tag} stands for."))
        else:
            findings.extend(_frontal_findings(element.frontal, settings, f"elements[{i}].frontal"))
        findings.extend(_reference_count(i, len(element.references), settings))
        for j, path in enumerate(element.references):
            findings.extend(_image_findings(path, settings, f"elements[{i}].references[{j}]"))
    return findings


def check_model(model_id: str, settings: Settings) -> list[Finding]:
    """Only the two tiers this studio knows (and prices) may be submitted: a client of /edit could
    otherwise send any fal endpoint id, and spend the server's key on it."""
    if settings.tier(model_id) is not None:
        return []
    known = " or ".join(f"{t.id} ({t.name})" for t in settings.tiers)
    shown = model_id if len(model_id) <= 80 else model_id[:77] + "..."
    return [Finding("error", "model", f"“{shown}” is not a model this studio runs; it runs {known}.",
                    f"Leave the model out for {settings.tiers[0].name}, or pass one of those ids.")]


def preflight(request: EditRequest, settings: Settings,
              video_findings: Iterable[Finding] = ()) -> list[Finding]:
    """Every finding for a request: the model's, the video's (probed by the caller), the prompt's,
    the references'."""
    return [*check_model(request.model, settings), *video_findings,
            *check_prompt(request.prompt, len(request.images), len(request.elements), settings),
            *check_references(request.images, request.elements, settings)]


def check_long_clip(info: MediaInfo, settings: Settings) -> list[Finding]:
    """What a clip edited in segments must be: longer than one edit takes (else it is sent
    whole), at most ``max_source_seconds``, and of a shape the segments can be scaled into. Its
    frame rate, size and container need not fit: each segment is re-encoded to the model's limits."""
    limits = settings.video
    longest = settings.max_source_seconds
    found = []
    if info.duration <= limits.max_seconds:
        found.append(Finding("error", "segments", f"The clip is {human_duration(info.duration)}, short "
                             f"enough for one {MODEL_NAME} edit, so it needs no segments.",
                             "Turn segments off and edit it in one go."))
    elif info.duration > longest:
        found.append(Finding("error", "video", f"Video is {measure(info.duration, 0, longest)} s; the studio "
                             f"edits clips of up to {seconds(longest)} s in segments.",
                             f"Trim it to {seconds(longest)} s or less, or edit a part of it (Fix it)."))
    try:
        fit_size(info.width, info.height, limits)
    except InputError as error:
        found.append(Finding("error", "video", error.message, error.fix))
    cap = settings.max_source_megapixels_per_s
    rate = info.width * info.height * max(info.fps or 0.0, limits.min_fps) / 1e6
    if rate > cap:
        found.append(Finding(
            "error", "video", f"Video is {info.width}x{info.height} at {info.fps:g} fps, {rate:,.0f} "
            f"megapixels a second to decode; the studio cuts clips of up to {cap:g} megapixels a second "
            "into segments (3840x2160 at 60 fps is 498).",
            "Scale it down to 3840x2160 or less, or edit a part of it (Fix it)."))
    return found


def video_facts(video: Path, settings: Settings,
                segments: bool = False) -> tuple[MediaInfo | None, list[Finding]]:
    """The clip probed once, and what stands in its way: the model's limits, or a long clip's when
    it is edited in ``segments``. A file that cannot be probed at all is one finding, like any
    other limit (and no facts)."""
    try:
        info = probe(video)
    except MediaError as error:
        return None, [Finding("error", error.field or "video", error.message, error.fix)]
    return info, check_long_clip(info, settings) if segments else check_video(info, settings.video)


def preflight_files(request: EditRequest, settings: Settings) -> list[Finding]:
    """``preflight`` with the video probed here: one call for the UI and the API."""
    return preflight(request, settings, video_facts(request.video, settings)[1])


def ensure_ok(findings: Iterable[Finding]) -> None:
    """Raise one ``InputError`` carrying every error; warnings alone pass."""
    findings = tuple(findings)
    if any(f.level == "error" for f in findings):
        raise InputError.from_findings(findings)


def _image_findings(path: Path, settings: Settings, field: str) -> list[Finding]:
    result = inspect_image(path, settings.image, field)
    return result if isinstance(result, list) else []


def _frontal_findings(path: Path, settings: Settings, field: str) -> list[Finding]:
    """A frontal image's checks plus the one fal sets on frontals only: the aspect ratio."""
    result = inspect_image(path, settings.image, field)
    if isinstance(result, list):
        return result
    limits = settings.image
    aspect = result.width / result.height
    if limits.min_aspect <= aspect <= limits.max_aspect:
        return []
    shape = "tall" if aspect < limits.min_aspect else "wide"
    crop = f"at least {limits.min_aspect:g}" if shape == "tall" else f"at most {limits.max_aspect:g}"
    return [Finding("error", field,
                    f"{result.path.name} is {result.width:,}x{result.height:,} px, an aspect ratio (width / "
                    f"height) of {aspect:.2f}; {MODEL_NAME} takes frontal images of {limits.min_aspect:g}-"
                    f"{limits.max_aspect:g}.",
                    f"It is too {shape}: crop it to a width / height of {crop} (e.g. 3:4 or 1:1) and "
                    "attach it again.")]


def _reference_count(i: int, n: int, settings: Settings) -> list[Finding]:
    """fal requires 1-4 reference images (other angles) per element besides the frontal one."""
    low, high = settings.min_element_references, settings.max_element_references
    field = f"elements[{i}].references"
    if n < low:
        return [Finding("error", field,
                        f"Element {i + 1} has {human_count(n, 'reference image')} besides the frontal one; "
                        f"{MODEL_NAME} needs {low}-{high}.",
                        f"Add at least {human_count(low - n, 'picture')} of it from another angle "
                        "(side, back).")]
    if n > high:
        return [Finding("error", field,
                        f"Element {i + 1} has {n} reference images besides the frontal one; "
                        f"{MODEL_NAME} takes "
                        f"{low}-{high}.", f"Remove {n - high}.")]
    return []


def _dangling(kind: labels.Kind, index: int, attached: int) -> Finding:
    tag = labels.label(kind, index)
    noun = "reference image" if kind == "Image" else "element"
    if attached == 0:
        have = f"no {noun}s are attached"
    else:
        have = f"only {human_count(attached, noun)} {'is' if attached == 1 else 'are'} attached"
    more = "more " if attached else ""
    return Finding("error", "prompt", f"{tag} is mentioned but {have}.",
                   f"Attach {human_count(index - attached, more + noun)} or change {tag} to a label "
                   "that exists.")

