"""The one place that knows how a prompt names its attachments: ``@Element1``, ``@Image1``.

fal documents the labels as a capitalised word and a 1-based number without zero padding. Kling
reads the prompt as plain text, so a spelling it may not recognise (``@element1``, ``@Image01``,
``@Image 1``, ``@img1``) is never accepted silently: it is reported as a near miss with the exact
label to write instead. A label glued to a preceding word character (``email@Image1.com``) or
followed by one (``@Image1a``) is not a label; punctuation around it (``(@Image1),``) is fine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["Element", "Image"]
KINDS: tuple[Kind, ...] = ("Element", "Image")

# What a removed attachment's mentions become: visible, not a label, and flagged by the checks.
REMOVED_MARKER: dict[Kind, str] = {"Element": "[removed element]", "Image": "[removed image]"}

_LABEL = re.compile(r"(?<!\w)@(Element|Image)([1-9][0-9]*)(?![\w])")
# Everything a user plausibly meant as a label: any case, abbreviations, zero padding, a space,
# underscore or hyphen before the number. Exact labels match too and are filtered out.
_NEAR = re.compile(r"(?<!\w)@(elements?|elem|el|images?|img)[ _-]?([0-9]+)(?!\w)", re.IGNORECASE)
_REMOVED = re.compile("|".join(re.escape(m) for m in REMOVED_MARKER.values()))


@dataclass(frozen=True)
class LabelMatch:
    kind: Kind
    index: int  # 1-based, as written
    start: int  # character offsets in the prompt: prompt[start:end] == text
    end: int
    text: str

    @property
    def label(self) -> str:
        return label(self.kind, self.index)


@dataclass(frozen=True)
class NearMiss:
    """Text that looks like a label but is not spelled the way fal documents it."""

    kind: Kind
    index: int  # the number as the user wrote it (0 for "@Image0")
    start: int
    end: int
    text: str
    suggestion: str | None  # the exact label to write instead; None when the number cannot be one (0)


def label(kind: Kind, index: int) -> str:
    """``label("Image", 1) == "@Image1"``."""
    if kind not in KINDS:
        raise ValueError(f"unknown label kind {kind!r}; expected one of {KINDS}")
    if index < 1:
        raise ValueError(f"labels count from 1, got {index}")
    return f"@{kind}{index}"


def find_labels(prompt: str) -> list[LabelMatch]:
    """Every exact label in the prompt, in order of appearance."""
    return [LabelMatch(m.group(1), int(m.group(2)), m.start(), m.end(), m.group(0))  # type: ignore[arg-type]
            for m in _LABEL.finditer(prompt)]


def find_near_misses(prompt: str) -> list[NearMiss]:
    """Label-like text Kling may not recognise, each with the label the user most likely meant."""
    out = []
    for m in _NEAR.finditer(prompt):
        kind: Kind = "Element" if m.group(1).lower().startswith("el") else "Image"
        index = int(m.group(2))
        suggestion = label(kind, index) if index >= 1 else None
        if m.group(0) != suggestion:
            out.append(NearMiss(kind, index, m.start(), m.end(), m.group(0), suggestion))
    return out


def find_removed_markers(prompt: str) -> list[tuple[int, int, str]]:
    """``(start, end, text)`` of each marker left by ``renumber_after_remove``."""
    return [(m.start(), m.end(), m.group(0)) for m in _REMOVED.finditer(prompt)]


def insert_label(prompt: str, text: str, cursor: int | None,
                 selection_end: int | None = None) -> tuple[str, int]:
    """Insert ``text`` (a label) at ``cursor``, replacing the selection ``cursor..selection_end``.

    A space is added before it only when the preceding character would glue onto it (a word
    character or punctuation other than an opening bracket), and after it only when the next
    character is neither whitespace nor closing punctuation: ``@Image1`` typed before ``0`` must not
    become ``@Image10``. Returns the new prompt and the cursor position just after the label.
    ``cursor=None`` means the end of the prompt; positions are clamped to the prompt.
    """
    if not _LABEL.fullmatch(text):
        raise ValueError(f"{text!r} is not a label like @Image1 or @Element1")
    n = len(prompt)
    start = n if cursor is None else min(max(cursor, 0), n)
    end = start if selection_end is None else min(max(selection_end, 0), n)
    start, end = min(start, end), max(start, end)
    before, after = prompt[:start], prompt[end:]
    pad_before = " " if before and not before[-1].isspace() and before[-1] not in "([{\"'“‘" else ""
    pad_after = " " if after and not after[0].isspace() and after[0] not in ".,;:!?)]}\"'”’" else ""
    new_cursor = len(before) + len(pad_before) + len(text)
    return before + pad_before + text + pad_after + after, new_cursor


def renumber(prompt: str, kind: Kind, mapping: Callable[[int], int | None]) -> str:
    """Rewrite every ``kind`` label in one pass: ``mapping(old)`` gives the new index, or None for
    an attachment that is gone (its mentions become the visible ``REMOVED_MARKER``).

    One pass means ``@Image2 -> @Image1`` can never be renumbered again in the same call.
    """
    def replace(m: re.Match[str]) -> str:
        if m.group(1) != kind:
            return m.group(0)
        new = mapping(int(m.group(2)))
        return REMOVED_MARKER[kind] if new is None else label(kind, new)

    return _LABEL.sub(replace, prompt)


def renumber_after_remove(prompt: str, kind: Kind, index: int) -> tuple[str, list[str]]:
    """The prompt after attachment ``kind`` ``index`` was removed, and what the user should know.

    Later labels move down by one (removing Image1 of 3: ``@Image2 -> @Image1``,
    ``@Image3 -> @Image2``) so every label still points at the same picture. Mentions of the
    removed attachment cannot stay as they are: ``@Image1`` would silently point at the former
    Image2. They become ``[removed image]`` / ``[removed element]``: the user sees where the
    prompt needs rewording, nothing refers to the wrong picture, and the pre-flight check blocks
    the edit until the marker is replaced. The returned list holds one sentence when that happened.
    """
    removed = label(kind, index)
    mentions = sum(1 for m in find_labels(prompt) if m.kind == kind and m.index == index)
    text = renumber(prompt, kind, lambda i: None if i == index else (i - 1 if i > index else i))
    if not mentions:
        return text, []
    times = "once" if mentions == 1 else f"{mentions} times"
    marker = REMOVED_MARKER[kind]
    return text, [f"The prompt mentioned {removed} {times}; it now reads “{marker}” there. "
                  f"Insert another label in its place or reword that part."]


def renumber_after_move(prompt: str, kind: Kind, old_index: int, new_index: int) -> str:
    """The prompt after attachment ``old_index`` moved to position ``new_index`` (list
    pop-then-insert semantics), so each label keeps following its own picture."""
    return renumber(prompt, kind, _move_mapping(old_index, new_index))


def _move_mapping(old: int, new: int) -> Callable[[int], int]:
    def mapping(i: int) -> int:
        if i == old:
            return new
        if old < i <= new:
            return i - 1
        if new <= i < old:
            return i + 1
        return i
    return mapping

