"""Instruction -> plan for the local preview: synonyms, negation, order, labels, what needs Kling."""

from __future__ import annotations

import pytest

from components.engines.local.looks import VOCABULARY, describe_vocabulary
from components.engines.local.plan import NEEDS_KLING, plan_edit
from components.errors import InputError


def keys(prompt: str) -> list[str]:
    return [look.key for look in plan_edit(prompt).looks]


@pytest.mark.parametrize(("prompt", "expected"), [
    ("Make it black and white", "black_and_white"),
    ("black-and-white please", "black_and_white"),
    ("convert to grayscale", "black_and_white"),
    ("Monochrome", "black_and_white"),
    ("remove the colours", "black_and_white"),
    ("Make it look like an old film", "sepia"),
    ("vintage look", "sepia"),
    ("sepia tones", "sepia"),
    ("noir", "film_noir"),
    ("a classic film noir", "film_noir"),
    ("at dusk", "warm"),
    ("golden hour light", "warm"),
    ("warmer colours", "warm"),
    ("a cold winter morning", "cold"),
    ("blue hour", "cold"),
    ("make it night", "night"),
    ("day-for-night", "night"),
    ("high contrast", "high_contrast"),
    ("punchy", "high_contrast"),
    ("soft dreamy glow", "glow"),
    ("anime style", "cartoon"),
    ("like a comic book", "cartoon"),
    ("pencil sketch", "pencil_sketch"),
    ("charcoal drawing", "pencil_sketch"),
    ("oil painting", "oil_painting"),
    ("in the style of van gogh", "oil_painting"),
    ("watercolour", "watercolor"),
    ("a watercolor painting", "watercolor"),
    ("neon cyberpunk city", "neon"),
    ("VHS tape", "vhs"),
    ("80s camcorder", "vhs"),
    ("pixel art", "pixel_art"),
    ("8-bit retro game", "pixel_art"),
    ("add film grain", "film_grain"),
])
def test_phrasings_map_to_one_look(prompt, expected):
    assert keys(prompt) == [expected]


def test_every_look_is_reachable_by_its_own_label_or_first_synonym():
    for look in VOCABULARY:
        assert look.pattern.search(look.label.split(" /")[0].split(" (")[0]), look.key


@pytest.mark.parametrize("prompt", [
    "not black and white",
    "Don't make it black and white",
    "keep the colours, no black and white",
    "without black and white",
])
def test_negated_looks_do_not_apply(prompt):
    plan = plan_edit(prompt)
    assert plan.looks == ()
    assert [look.key for look in plan.negated] == ["black_and_white"]


def test_negation_stops_at_but_and_at_a_new_clause():
    assert keys("not sepia but black and white") == ["black_and_white"]
    assert keys("No grain. Make it warm") == ["warm"]
    assert keys("make it sepia and not black and white") == ["sepia"]


def test_remove_the_grain_is_a_negation_not_a_generative_request():
    plan = plan_edit("remove the grain")
    assert plan.looks == () and plan.needs_kling == ()
    assert [look.key for look in plan.negated] == ["film_grain"]


def test_looks_compose_in_vocabulary_order_whatever_the_prompt_order():
    assert keys("film grain, warm, pencil sketch") == ["pencil_sketch", "warm", "film_grain"]
    assert keys("warm black and white") == ["black_and_white", "warm"]


def test_overlapping_phrases_take_the_longest():
    assert keys("retro game") == ["pixel_art"]
    assert keys("retro") == ["vhs"]


def test_kling_example_splits_into_applied_palette_and_needs_kling():
    prompt = ("Replace the character with @Element1, make it film noir and transform the landscape "
              "into @Image1")
    plan = plan_edit(prompt)
    assert keys(prompt) == ["film_noir"]
    assert [r.label for r in plan.references] == ["@Image1"]  # the element is put in, not a palette
    assert plan.needs_kling == ("Replace the character with @Element1",)
    assert plan.notes() == ["Applied: film noir, palette of @Image1.",
                            f"Replace the character with @Element1: {NEEDS_KLING}."]


@pytest.mark.parametrize("prompt", [
    "make it look like @Image1",
    "in the colours of @Element1",
    "transform the landscape into @Image1",
    "@Image1",
])
def test_labels_lend_their_palette(prompt):
    plan = plan_edit(prompt)
    assert len(plan.references) == 1 and plan.needs_kling == () and plan.does_something


def test_each_label_is_used_once_in_order_of_mention():
    plan = plan_edit("colours of @Image2 and @Element1, then more of @Image2")
    assert [r.label for r in plan.references] == ["@Image2", "@Element1"]


@pytest.mark.parametrize("prompt", [
    "Swap the dog for a cat",
    "add a hat to the man",
    "remove the car",
    "change the background to a beach",
    "turn the car into a tank",
    "make the man smile",
    "give her a red dress",
])
def test_generative_requests_need_kling(prompt):
    plan = plan_edit(prompt)
    assert plan.needs_kling == (prompt,) and not plan.does_something


@pytest.mark.parametrize(("prompt", "expected"), [
    ("turn him into a cartoon", "cartoon"),
    ("change the sky to sunset", "warm"),
    ("add a vintage look", "sepia"),
    ("make the video black and white", "black_and_white"),
])
def test_restyling_verbs_aimed_at_a_look_are_looks(prompt, expected):
    plan = plan_edit(prompt)
    assert keys(prompt) == [expected] and plan.needs_kling == ()


def test_and_before_a_verb_splits_clauses_but_black_and_white_stays_whole():
    plan = plan_edit("Replace the character with @Element1 and make it black and white")
    assert keys("Replace the character with @Element1 and make it black and white") == ["black_and_white"]
    assert plan.needs_kling == ("Replace the character with @Element1",)


def test_unknown_clauses_are_reported_as_left_out():
    plan = plan_edit("sepia, with cinematic lighting")
    assert keys("sepia, with cinematic lighting") == ["sepia"]
    assert plan.ignored == ("with cinematic lighting",)
    assert any("left out: with cinematic lighting" in n for n in plan.notes())


def test_nothing_understood_raises_with_the_vocabulary():
    with pytest.raises(InputError) as err:
        plan_edit("make it beautiful").require_something()
    assert describe_vocabulary() in str(err.value) and err.value.field == "prompt"


def test_only_generative_raises_saying_it_needs_kling():
    with pytest.raises(InputError) as err:
        plan_edit("Replace the character with @Element1").require_something()
    assert "Replace the character with @Element1" in str(err.value) and NEEDS_KLING in str(err.value)


@pytest.mark.parametrize(("prompt", "label"), [
    ("transform the landscape into the snowy evening of @Image1", "@Image1"),
    ("Turn the meadow into a frozen lake under the night sky of @Image2", "@Image2"),
    ("Replace the sky with the colours of @Image1", "@Image1"),
    ("turn the man into a robot in the colours of @Element1", "@Element1"),
])
def test_a_label_far_from_its_verb_still_lends_its_palette_and_the_rest_is_listed(prompt, label):
    plan = plan_edit(prompt)
    assert [r.label for r in plan.references] == [label] and plan.does_something
    assert plan.partly == (prompt,) and plan.needs_kling == ()
    assert any(prompt in n and NEEDS_KLING in n for n in plan.notes())
    plan.require_something()  # something applies: no refusal


def test_the_studio_example_previews_its_palette_and_lists_the_swap():
    prompt = ("Replace the walking figure with @Element1, keeping its stride, and transform the "
              "landscape into the snowy evening of @Image1.")
    plan = plan_edit(prompt)
    assert [r.label for r in plan.references] == ["@Image1"]  # never the robot's palette
    assert plan.needs_kling == ("Replace the walking figure with @Element1",)
    assert plan.notes()[0] == "Applied: palette of @Image1."
    # Keeping the stride is what every preview does: said so, never "left out".
    assert plan.kept == ("keeping its stride",) and plan.ignored == ()
    assert not any("left out" in n for n in plan.notes())


def test_a_palette_named_right_after_a_putting_verb_is_a_palette():
    plan = plan_edit("add @Image1's palette")
    assert [r.label for r in plan.references] == ["@Image1"] and plan.needs_kling == plan.partly == ()


def test_an_explicit_grade_wins_over_one_implied_by_a_simile():
    plan = plan_edit("Make the whole video black and white, like an old film")
    assert keys("Make the whole video black and white, like an old film") == ["black_and_white"]
    assert [(words, implied.key, won.key) for words, implied, won in plan.overridden] == [
        ("old film", "sepia", "black_and_white")]
    assert any("read as a comparison" in n for n in plan.notes())


def test_a_simile_alone_still_applies_and_does_not_override_stylising_looks():
    assert keys("Make it look like an old film") == ["sepia"]
    assert keys("black and white, like a pencil sketch") == ["pencil_sketch", "black_and_white"]
