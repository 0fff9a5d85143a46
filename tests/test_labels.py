"""Label syntax: what is a label, what is a near miss, inserting at a cursor, renumbering."""

from __future__ import annotations

import pytest

from components.edit.labels import (
    REMOVED_MARKER,
    find_labels,
    find_near_misses,
    find_removed_markers,
    insert_label,
    label,
    renumber_after_move,
    renumber_after_remove,
)


def labels_in(prompt: str) -> list[str]:
    return [m.text for m in find_labels(prompt)]


def test_label_builds_the_documented_spelling():
    assert label("Image", 1) == "@Image1"
    assert label("Element", 12) == "@Element12"
    with pytest.raises(ValueError):
        label("Image", 0)
    with pytest.raises(ValueError):
        label("image", 1)  # type: ignore[arg-type]


def test_find_labels_reports_kind_index_and_exact_span():
    prompt = "Replace the character with @Element1 and the sky with @Image2."
    found = find_labels(prompt)
    assert [(m.kind, m.index) for m in found] == [("Element", 1), ("Image", 2)]
    for m in found:
        assert prompt[m.start:m.end] == m.text == m.label


@pytest.mark.parametrize("prompt, expected", [
    ("@Image1.", ["@Image1"]),
    ("(@Image1)", ["@Image1"]),
    ("@Image1, @Element2; @Image3!", ["@Image1", "@Element2", "@Image3"]),
    ("@Image1's colours", ["@Image1"]),
    ("@Image10 not one", ["@Image10"]),
    ("\n@Element3\n", ["@Element3"]),
    ("write to email@Image1.com", []),  # preceded by a word character: an address, not a label
    ("x_@Image1", []),
    ("@Image1a and @Image1_b", []),  # followed by a word character
    ("@image1 @Image01 @IMAGE1 @Image 1", []),  # near misses are not labels
])
def test_what_counts_as_a_label(prompt, expected):
    assert labels_in(prompt) == expected


def test_two_digit_index_is_its_own_label():
    [m] = find_labels("use @Image10")
    assert (m.kind, m.index) == ("Image", 10)


@pytest.mark.parametrize("text, suggestion", [
    ("@element1", "@Element1"),
    ("@Image01", "@Image1"),
    ("@IMAGE2", "@Image2"),
    ("@Image 1", "@Image1"),
    ("@img3", "@Image3"),
    ("@Elements2", "@Element2"),
    ("@element_4", "@Element4"),
    ("@Element012", "@Element12"),
])
def test_near_misses_suggest_the_exact_label(text, suggestion):
    prompt = f"Replace him with {text}."
    [miss] = find_near_misses(prompt)
    assert miss.text == text
    assert miss.suggestion == suggestion
    assert prompt[miss.start:miss.end] == text


def test_zero_is_a_near_miss_without_a_suggestion():
    [miss] = find_near_misses("use @Image0")
    assert (miss.kind, miss.index, miss.suggestion) == ("Image", 0, None)


def test_exact_labels_and_addresses_are_not_near_misses():
    assert find_near_misses("@Image1 @Element10 (@Image2), mail@image1.com") == []


@pytest.mark.parametrize("prompt, cursor, sel_end, expected, new_cursor", [
    ("", None, None, "@Image1", 7),
    ("Replace the sky", None, None, "Replace the sky @Image1", 23),  # end: space before only
    ("Replace the sky ", None, None, "Replace the sky @Image1", 23),
    ("the sky", 0, None, "@Image1 the sky", 7),  # start: space after only
    ("sky", 0, None, "@Image1 sky", 7),
    ("with  now", 5, None, "with @Image1 now", 12),  # middle, spaces already there
    ("with now", 4, None, "with @Image1 now", 12),  # middle after a word: spaces both sides
    ("withnow", 4, None, "with @Image1 now", 12),
    ("like .", 5, None, "like @Image1.", 12),  # punctuation after needs no space
    ("like ()", 6, None, "like (@Image1)", 13),  # brackets need none either
    ("copy 0 times", 5, None, "copy @Image1 0 times", 12),  # a digit after must not make @Image10
    ("with X now", 5, 6, "with @Image1 now", 12),  # selection replaced
    ("with X now", 6, 5, "with @Image1 now", 12),  # selection given backwards
    ("with Xnow", 5, 6, "with @Image1 now", 12),
    ("abc", 99, None, "abc @Image1", 11),  # clamped
])
def test_insert_label_at_cursor(prompt, cursor, sel_end, expected, new_cursor):
    text, pos = insert_label(prompt, "@Image1", cursor, sel_end)
    assert (text, pos) == (expected, new_cursor)
    assert text[pos - len("@Image1"):pos] == "@Image1"
    assert labels_in(text) == ["@Image1"]


def test_insert_label_rejects_what_is_not_a_label():
    with pytest.raises(ValueError):
        insert_label("x", "@image1", None)


def test_remove_shifts_later_labels_down_in_one_pass():
    prompt = "A @Image2 B @Image3 C @Element2"
    text, warnings = renumber_after_remove(prompt, "Image", 1)
    assert text == "A @Image1 B @Image2 C @Element2"  # not chained to @Image0/@Image1
    assert warnings == []


def test_remove_turns_mentions_of_the_removed_one_into_a_visible_marker():
    prompt = "Make @Image1 look like @Image2, keep @Image1's light, @Element1 stays."
    text, warnings = renumber_after_remove(prompt, "Image", 1)
    marker = REMOVED_MARKER["Image"]
    assert text == f"Make {marker} look like @Image1, keep {marker}'s light, @Element1 stays."
    assert len(find_removed_markers(text)) == 2
    [warning] = warnings
    assert "@Image1" in warning and "2 times" in warning and marker in warning


def test_remove_with_two_digit_indices():
    prompt = " ".join(label("Element", i) for i in range(1, 13))
    text, _ = renumber_after_remove(prompt, "Element", 10)
    expected = [f"@Element{i}" for i in range(1, 10)] + ["@Element10", "@Element11"]
    assert labels_in(text) == expected
    assert REMOVED_MARKER["Element"] in text
    assert text.index(REMOVED_MARKER["Element"]) < text.index("@Element10")


def test_remove_leaves_the_other_kind_and_near_misses_alone():
    text, _ = renumber_after_remove("@Element2 @Image2 @image2", "Element", 1)
    assert text == "@Element1 @Image2 @image2"


@pytest.mark.parametrize("old, new, expected", [
    (1, 3, "@Image3 @Image1 @Image2 @Image4"),  # move forward: the ones passed shift down
    (3, 1, "@Image2 @Image3 @Image1 @Image4"),  # move back: the ones passed shift up
    (2, 2, "@Image1 @Image2 @Image3 @Image4"),
])
def test_move_labels_follow_their_attachments(old, new, expected):
    assert renumber_after_move("@Image1 @Image2 @Image3 @Image4", "Image", old, new) == expected


def test_move_with_two_digit_indices_and_other_kind_untouched():
    prompt = "@Image12 @Image1 @Element12 @Image11"
    assert renumber_after_move(prompt, "Image", 12, 1) == "@Image1 @Image2 @Element12 @Image12"
