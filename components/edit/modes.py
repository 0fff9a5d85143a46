"""How many runs one Generate makes: one edit, several takes of it, or a long clip in segments.

Parsed from client values in one place, because the page and ``/edit`` both send them and either
may send anything: a takes count of 10**9 or an overlap of -5 must be a sentence, not a bill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from components.config import Settings
from components.errors import InputError

MAX_OVERLAP_SECONDS = 1.0  # a longer crossfade shows both edits at once for too long


@dataclass(frozen=True)
class EditMode:
    takes: int = 1  # the same edit run this many times at once, to choose from
    segments: bool = False  # a clip longer than the model takes, edited in segments and joined
    overlap: float = 0.0  # seconds each segment reaches back into the previous one, crossfaded

    @property
    def key(self) -> str:
        """What tells two submissions of the same inputs apart (one job per intent)."""
        return f"takes={self.takes};segments={int(self.segments)};overlap={self.overlap:g}"


SINGLE = EditMode()


def parse_mode(takes: Any, segments: Any, overlap: Any, settings: Settings) -> EditMode:
    """An EditMode from client values (None: the default), refusing what the studio does not run."""
    n = 1 if takes is None or takes == "" else takes
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= settings.max_takes:
        raise InputError(f"Takes must be a whole number from 1 to {settings.max_takes}.",
                         fix=f"Ask for 1-{settings.max_takes} takes.", field="takes")
    seg = segments is True or segments == "true"
    if segments not in (None, False, True, "true", "false", ""):
        raise InputError("segments must be true or false.", fix="Send a boolean.", field="segments")
    lap = 0.0 if overlap is None or overlap == "" else overlap
    if isinstance(lap, bool) or not isinstance(lap, (int, float)) or not math.isfinite(lap) \
            or not 0 <= lap <= MAX_OVERLAP_SECONDS:
        raise InputError(f"The overlap must be 0-{MAX_OVERLAP_SECONDS:g} s.",
                         fix="Use 0 for hard cuts, or up to a second for crossfades.", field="overlap")
    if seg and n > 1:
        raise InputError("Takes and segments do not combine: a long clip is edited once, in segments.",
                         fix="Choose 1 take for a long clip, or trim it to use takes.", field="takes")
    if lap and not seg:
        lap = 0.0  # a crossfade only exists between segments
    return EditMode(takes=n, segments=seg, overlap=round(float(lap), 3))
