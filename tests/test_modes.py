"""What one Generate runs, parsed from anything a client sends: a sentence for every bad value."""

from __future__ import annotations

import math

import pytest

from components.config import Settings
from components.edit.modes import EditMode, parse_mode
from components.errors import InputError

SETTINGS = Settings()


@pytest.mark.parametrize(("takes", "segments", "overlap", "expected"), [
    (None, None, None, EditMode()),
    (3, False, 0, EditMode(takes=3)),
    (2.0, "false", "", EditMode(takes=2)),
    (1, True, 0.5, EditMode(segments=True, overlap=0.5)),
    (1, "true", 1, EditMode(segments=True, overlap=1.0)),
    (4, False, 0.75, EditMode(takes=4)),  # a crossfade only exists between segments
])
def test_accepted_values(takes, segments, overlap, expected):
    assert parse_mode(takes, segments, overlap, SETTINGS) == expected


@pytest.mark.parametrize(("takes", "segments", "overlap", "field", "words"), [
    (0, False, 0, "takes", "from 1 to 4"),
    (5, False, 0, "takes", "from 1 to 4"),
    (10**9, False, 0, "takes", "from 1 to 4"),
    (2.5, False, 0, "takes", "whole number"),
    (True, False, 0, "takes", "whole number"),
    ("3", False, 0, "takes", "whole number"),
    (1, "yes", 0, "segments", "true or false"),
    (1, [], 0, "segments", "true or false"),
    (1, True, -0.5, "overlap", "0-1 s"),
    (1, True, 1.5, "overlap", "0-1 s"),
    (1, True, math.nan, "overlap", "0-1 s"),
    (1, True, math.inf, "overlap", "0-1 s"),
    (1, True, "0.5", "overlap", "0-1 s"),
    (2, True, 0, "takes", "do not combine"),
])
def test_refused_values_say_what_and_where(takes, segments, overlap, field, words):
    with pytest.raises(InputError, match=words) as refused:
        parse_mode(takes, segments, overlap, SETTINGS)
    assert refused.value.field == field and refused.value.fix
