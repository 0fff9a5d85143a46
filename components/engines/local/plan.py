"""Instruction -> edit plan: which looks to apply, whose palette to borrow, and what only Kling can do.

The local preview never refuses a prompt it can partly do: it applies every look and palette it
finds, lists the rest, and refuses only when nothing at all applies.

The prompt is read clause by clause (sentences, commas, "then", and "and"/"but" before a new verb,
so "black and white" stays whole). In each clause:

- a look phrase (see looks.py) applies that look, unless a negation comes shortly before it in the
  same clause ("not black and white", "without grain", "remove the grain"); "but"/"instead"
  starts afresh, so "not sepia but black and white" applies black and white;
- a look named only in a comparison ("like an old film") is implied; a grade the user names
  outright wins over an implied one ("black and white, like an old film" stays black and white,
  not sepia), because the words they chose say what they want and the simile only sets a mood;
- an @Image/@Element label lends its palette to the whole clip wherever it sits in the clause
  ("transform the landscape into the snowy evening of @Image1", "in the colours of @Element1"),
  unless it is the thing a verb puts *into* the video ("Replace the character with @Element1"):
  recolouring the whole clip with a character's palette would be wrong;
- a generative request (replace, swap, add, remove, change the background, turn X into a Y that
  is not a look, make him/her/the person do something) is reported as needing Kling O1; when the
  same clause also carried a look or a palette, that part is applied and the clause is reported
  as only partly previewed;
- asking to keep the motion ("keeping its stride", "keep the camera move") is what every edit does
  (the preview never moves a pixel in time), so it is reported as kept, not as left out;
- anything else is reported as ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.config import MODEL_NAME
from components.edit.labels import LabelMatch, find_labels
from components.engines.local.looks import BY_KEY, VOCABULARY, Look, describe_vocabulary
from components.errors import InputError

NEEDS_KLING = f"needs {MODEL_NAME} — set a fal key"

_VERB = (r"make|turn|give|add|change|replace|remove|transform|apply|use|keep|set|put|swap|convert|render|"
         r"insert|erase|delete|style|restyle")
_CLAUSE_BREAK = re.compile(
    rf"[.;!?\n]+|,|\bthen\b|\b(?:and|but|while|also|plus)\b(?=\s+(?:{_VERB})\b)", re.IGNORECASE)
_NEGATION = re.compile(
    r"\b(?:not|no|never|without|don'?t|doesn'?t|isn'?t|avoid|nor|neither|remove|reduce|less|"
    r"eliminate|instead of|rather than)\b|n't\b", re.IGNORECASE)
_FRESH_START = re.compile(r"\b(?:but|instead|rather|however)\b", re.IGNORECASE)
_NEGATION_WORDS = 4  # how far back a negation reaches: "don't make it look black and white"

# Putting something into (or out of) the picture: only a generative model can.
_OBJECT_VERB = re.compile(
    r"\b(?:replac\w*|swap\w*|substitut\w*|add(?:s|ed|ing)?|insert\w*|put(?:s|ting)?|plac(?:e|es|ed|ing)|"
    r"remov\w*|eras\w*|delet\w*|get rid of|giv(?:e|es|ing)|dress\w*|wear\w*|hold(?:s|ing)?|animat\w+)\b",
    re.IGNORECASE)
# Changing what something is: fine when the target is a look or a label, generative otherwise.
_RESTYLE = re.compile(
    r"\b(?:turn|transform|convert|change|morph|restyle|make)\w*\b(?:\s+[\w'@]+){0,5}?"
    r"\s+(?:into|to|like|look like|as)\b", re.IGNORECASE)
_SUBJECT_VERB = re.compile(
    r"\b(?:change|make)\s+(?:him|her|them|(?:the|his|her|their)\s+"
    r"(?!video|clip|footage|scene|image|shot|frame|picture|whole|colou?rs?|look|style|mood|tone)\w+)",
    re.IGNORECASE)
_WORD = re.compile(r"[\w'@&/]+")
# A look after one of these is a comparison, not a request: "like an old film", "as in a dream".
_SIMILE = re.compile(r"\b(?:like|as if|as though|as in|reminiscent of|evok\w*|recalling)\b", re.IGNORECASE)
_SIMILE_WORDS = 4  # "like a faded old film": the cue is at most this many words before the look
# Words that make a label a source of colour even after a verb that puts things in:
# "replace the sky with the colours of @Image1", "give it @Image1's palette".
_PALETTE_CUE = re.compile(
    r"\b(?:colou?r\w*|palette|tones?|tint|hues?|look|style|mood|grade|grading|light\w*|atmosphere|feel|"
    r"vibe|like|of)\b", re.IGNORECASE)
_NEAR_WORDS = 3  # a look or label this close after a verb is its object: "add film grain"
# Keeping the motion: the preview keeps every frame where it was, so such a clause is done already.
_KEEPS_MOTION = re.compile(
    r"\b(?:keep\w*|preserv\w*|maintain\w*|retain\w*)\b.*\b(?:stride|motion|movement|moves?|pace|timing|"
    r"poses?|walk\w*|gait|camera|framing|composition|speed|rhythm|action)\b", re.IGNORECASE)


@dataclass(frozen=True)
class EditPlan:
    looks: tuple[Look, ...]  # in composition (vocabulary) order
    references: tuple[LabelMatch, ...]  # palette sources, first mention of each, in prompt order
    needs_kling: tuple[str, ...]  # clauses only generative editing can do, as the user wrote them
    ignored: tuple[str, ...]  # clauses outside the local vocabulary
    negated: tuple[Look, ...] = ()  # looks named only to be ruled out
    partly: tuple[str, ...] = ()  # clauses whose look or palette is applied but whose rest needs Kling
    # (the user's words, the implied look, the explicit grade that won over it)
    overridden: tuple[tuple[str, Look, Look], ...] = ()
    kept: tuple[str, ...] = ()  # clauses asking to keep the motion, which every edit does

    @property
    def does_something(self) -> bool:
        return bool(self.looks or self.references)

    def applied(self) -> list[str]:
        """What will be applied, in order: look labels, then "palette of @Image1"."""
        out = [look.label for look in self.looks]
        if self.references:
            out.append("palette of " + " and ".join(r.label for r in self.references))
        return out

    def notes(self) -> list[str]:
        """The lines EditResult.notes carries: applied first, then what could not be done."""
        notes = [f"Applied: {', '.join(self.applied())}."] if self.does_something else []
        notes += [f"“{words}” was read as a comparison: {explicit.label}, which you asked for, wins over "
                  f"{implied.label}." for words, implied, explicit in self.overridden]
        notes += [f"{clause}: previewed as a look and palette only; the rest {NEEDS_KLING}."
                  for clause in self.partly]
        notes += [f"{clause}: {NEEDS_KLING}." for clause in self.needs_kling]
        notes += [f"“{clause}”: kept, as in every local preview (it never changes the motion)."
                  for clause in self.kept]
        notes += [f"Not understood by the local preview, left out: {clause}." for clause in self.ignored]
        return notes

    def require_something(self) -> None:
        """Refuse a plan that would return the clip unchanged, saying what the preview can do."""
        if self.does_something:
            return
        if self.needs_kling:
            parts = "; ".join(f"“{c}”" for c in self.needs_kling)
            message = f"The local preview cannot do any part of this instruction: {parts} {NEEDS_KLING}."
        else:
            message = "The local preview did not recognise a look or an @Image/@Element in this instruction."
        raise InputError(message, fix=f"Locally it can apply: {describe_vocabulary()}; or the colours of an "
                                      f"@Image/@Element you mention (e.g. “make it look like @Image1”).",
                         field="prompt")


@dataclass(frozen=True)
class _Hit:
    look: Look
    start: int
    end: int
    negated: bool
    implied: bool = False  # named in a comparison: "like an old film"


def plan_edit(prompt: str) -> EditPlan:
    labels = find_labels(prompt)
    looks: set[str] = set()
    implied: dict[str, str] = {}  # look key -> the words that implied it
    negated: set[str] = set()
    references: dict[str, LabelMatch] = {}
    needs_kling: list[str] = []
    partly: list[str] = []
    ignored: list[str] = []
    kept: list[str] = []
    for start, end in _clauses(prompt):
        text = prompt[start:end]
        hits = _look_hits(text)
        clause_labels = [m for m in labels if start <= m.start < end]
        label_spans = [(m.start - start, m.end - start) for m in clause_labels]
        palette_spans = [(a, b) for a, b in label_spans if not _is_put_in(text, a, b)]
        generative = _generative(text, hits, label_spans, palette_spans)
        applied_here = False
        for hit in hits:
            if hit.negated:
                negated.add(hit.look.key)
            else:
                if hit.implied:
                    implied.setdefault(hit.look.key, text[hit.start:hit.end])
                else:
                    looks.add(hit.look.key)
                applied_here = True
        for m, (a, b) in zip(clause_labels, label_spans, strict=True):
            if (a, b) in palette_spans:
                references.setdefault(m.label, m)
                applied_here = True
        if generative:
            (partly if applied_here else needs_kling).append(text.strip())
        elif not hits and not clause_labels and _KEEPS_MOTION.search(text):
            kept.append(text.strip())
        elif not hits and not clause_labels and _WORD.search(text):
            ignored.append(text.strip())
    explicit_grades = [BY_KEY[k] for k in looks if BY_KEY[k].grade]
    overridden = []
    for key, words in implied.items():
        look = BY_KEY[key]
        if key in looks:
            continue
        if look.grade and explicit_grades:
            overridden.append((words, look, explicit_grades[0]))
        else:
            looks.add(key)
    return EditPlan(
        looks=tuple(look for look in VOCABULARY if look.key in looks),
        references=tuple(references.values()),
        needs_kling=tuple(needs_kling),
        ignored=tuple(ignored),
        negated=tuple(look for look in VOCABULARY if look.key in negated - looks),
        partly=tuple(partly),
        overridden=tuple(overridden),
        kept=tuple(kept),
    )


def _clauses(prompt: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for m in _CLAUSE_BREAK.finditer(prompt):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(prompt)))
    return [(a, b) for a, b in spans if prompt[a:b].strip()]


def _look_hits(text: str) -> list[_Hit]:
    """Every look phrase in the clause; where phrases overlap the longest wins ("retro game" is
    pixel art, not VHS; "watercolor painting" is watercolor, not oil)."""
    found = [(m.start(), m.end(), look) for look in VOCABULARY for m in look.pattern.finditer(text)]
    found.sort(key=lambda t: (t[0] - t[1], t[0]))
    taken: list[tuple[int, int]] = []
    hits = []
    for a, b, look in found:
        if any(a < y and x < b for x, y in taken):
            continue
        taken.append((a, b))
        hits.append(_Hit(look, a, b, _is_negated(text[:a]), _is_simile(text[:a])))
    return sorted(hits, key=lambda h: h.start)


def _is_simile(before: str) -> bool:
    """Whether a comparison word ("like", "as in") comes within a few words before a look."""
    words = _WORD.findall(before)[-_SIMILE_WORDS:]
    return bool(_SIMILE.search(" ".join(words)))


def _is_put_in(text: str, start: int, end: int) -> bool:
    """Whether the label at text[start:end] is what a verb puts into (or takes out of) the picture,
    "Replace the character with @Element1", rather than a source of colour: true when an object
    verb comes before it in the clause and no colour word ("colours of", "look", "like") lies
    between them or right after it ("@Image1's palette")."""
    verbs = [m for m in _OBJECT_VERB.finditer(text) if m.end() <= start]
    if not verbs:
        return False
    between = text[verbs[-1].end():start]
    after = " ".join(_WORD.findall(text[end:])[:2])
    return not (_PALETTE_CUE.search(between) or _PALETTE_CUE.search(after))


def _is_negated(before: str) -> bool:
    fresh = list(_FRESH_START.finditer(before))
    if fresh:
        before = before[fresh[-1].end():]
    words = _WORD.findall(before)[-_NEGATION_WORDS:]
    return bool(_NEGATION.search(" ".join(words)))


def _generative(text: str, hits: list[_Hit], label_spans: list[tuple[int, int]],
                palette_spans: list[tuple[int, int]]) -> bool:
    """Whether the clause asks for something only a generative model can do."""
    look_starts = [h.start for h in hits]
    palette_starts = [a for a, _ in palette_spans]
    inside_look = [(h.start, h.end) for h in hits]

    def near(pos: int, starts: list[int]) -> bool:
        return any(s >= pos and len(_WORD.findall(text[pos:s])) <= _NEAR_WORDS for s in starts)

    for m in _OBJECT_VERB.finditer(text):
        if any(a <= m.start() < b for a, b in inside_look):
            continue  # "remove the colour" is itself a look phrase
        if not near(m.end(), look_starts + palette_starts):
            return True  # "add @Image1's palette" is a palette; "add a hat" is not
    restyle = _RESTYLE.search(text)
    if restyle:
        # "into @Image1" or "into a cartoon" is a look; "into the snowy evening of @Image1" is also
        # a scene change: its palette still applies (plan_edit), the rest needs Kling.
        return not near(restyle.end(), look_starts + [a for a, _ in label_spans])
    subject = _SUBJECT_VERB.search(text)
    return bool(subject) and not near(subject.end(), look_starts)
