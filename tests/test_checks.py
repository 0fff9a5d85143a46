"""Pre-flight checks: every rule reported with the measured value, the limit and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.config import Settings
from components.edit.checks import check_prompt, check_references, ensure_ok, preflight, preflight_files
from components.edit.request import EditRequest, Element
from components.errors import Finding, InputError
from tests.mediagen import make_clip, make_image, make_text_as

SETTINGS = Settings()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("checks")
    return {
        "ok": make_image(d / "ok.png", width=320, height=320),
        "ok2": make_image(d / "ok2.jpg", width=320, height=320),
        "tiny": make_image(d / "tiny.png", width=100, height=100),
        "tall": make_image(d / "tall.png", width=300, height=1000),  # aspect 0.3
        "edge_tall": make_image(d / "edge_tall.png", width=400, height=1000),  # aspect 0.4: accepted
        "wide": make_image(d / "wide.png", width=1300, height=500),  # aspect 2.6
        "text": make_text_as(d / "notes.png"),
        "video": d / "clip.mp4",  # preflight never opens it: video findings come from the caller
    }


def only(findings: list[Finding], level: str = "error") -> list[Finding]:
    return [f for f in findings if f.level == level]


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt_is_one_error(prompt):
    [f] = check_prompt(prompt, 2, 1, SETTINGS)
    assert (f.level, f.field, f.message) == ("error", "prompt", "The prompt is empty.")
    assert "@Element1" in f.fix


def test_prompt_over_the_limit_shows_the_count():
    prompt = "@Image1 " + "x" * (2731 - 8)
    [f] = check_prompt(prompt, 1, 0, SETTINGS)
    assert f.message == "The prompt is too long: 2,731 / 2,500 characters."
    assert f.fix == "Shorten it by 231 characters."
    assert check_prompt("@Image1 " + "x" * (2500 - 8), 1, 0, SETTINGS) == []  # exactly at the limit


def test_limit_comes_from_settings():
    [f] = check_prompt("@Image1 too long", 1, 0, Settings(prompt_max_chars=10))
    assert "16 / 10 characters" in f.message


def test_label_pointing_at_nothing():
    findings = check_prompt("Use @Image1 and @Image3, then @Image3 again", 2, 0, SETTINGS)
    [f] = only(findings)
    assert f.message == "@Image3 is mentioned but only 2 reference images are attached."
    assert "Attach 1 more reference image" in f.fix and "@Image3" in f.fix
    assert [w.field for w in only(findings, "warning")] == ["images[1]"]  # @Image2 unused


@pytest.mark.parametrize("prompt, n_images, n_elements, message", [
    ("with @Element1", 0, 0, "@Element1 is mentioned but no elements are attached."),
    ("with @Element2", 0, 1, "@Element2 is mentioned but only 1 element is attached."),
    ("with @Image12", 4, 0, "@Image12 is mentioned but only 4 reference images are attached."),
])
def test_dangling_label_wording(prompt, n_images, n_elements, message):
    assert message in [f.message for f in only(check_prompt(prompt, n_images, n_elements, SETTINGS))]


def test_dangling_label_fix_counts_what_is_missing():
    [f] = only(check_prompt("with @Element2", 0, 0, SETTINGS))
    assert f.fix.startswith("Attach 2 elements or change @Element2")


@pytest.mark.parametrize("text, suggestion", [("@element1", "@Element1"), ("@Image01", "@Image1")])
def test_near_miss_is_an_error_with_did_you_mean(text, suggestion):
    [f] = only(check_prompt(f"Replace him with {text}. Also @Image1 @Element1", 1, 1, SETTINGS))
    assert f.message == f"“{text}” is not a label Kling O1 knows."
    assert f.fix.startswith(f"Did you mean {suggestion}?")


def test_address_with_a_label_inside_is_not_flagged():
    assert check_prompt("Write to me@Image1.com about @Image1", 1, 0, SETTINGS) == []


def test_removed_marker_blocks_until_reworded():
    [f] = only(check_prompt("Make [removed image] look like @Image1", 1, 0, SETTINGS))
    assert "[removed image]" in f.message and f.fix


def test_unused_attachments_are_warnings_naming_the_label():
    findings = check_prompt("Replace the character with @Element1", 2, 2, SETTINGS)
    assert only(findings) == []
    warnings = only(findings, "warning")
    assert [w.field for w in warnings] == ["images[0]", "images[1]", "elements[1]"]
    assert warnings[1].message == ("Image 2 is attached but the prompt never mentions @Image2 — "
                                   "Kling may ignore it.")
    assert warnings[1].fix.startswith("Insert @Image2")
    assert "@Element2" in warnings[2].message


def test_a_clean_prompt_has_no_findings():
    assert check_prompt("Replace the character with @Element1, sky like @Image1.", 1, 1, SETTINGS) == []


def test_too_many_references_together(media):
    images = [media["ok"]] * 3
    elements = [Element(media["ok2"], (media["ok"],))] * 2
    [f] = check_references(images, elements, SETTINGS)
    assert f.field == "references"
    assert "5 references are attached (3 images + 2 elements)" in f.message and "at most 4" in f.message
    assert f.fix == "Remove 1."
    assert check_references(images, elements[:1], SETTINGS) == []


def test_element_without_frontal_and_with_too_many_references(media):
    elements = [Element(None, (media["ok"],)), Element(media["ok"], (media["ok2"],) * 5)]
    findings = check_references([], elements, SETTINGS)
    assert [(f.field, f.level) for f in findings] == [("elements[0].frontal", "error"),
                                                      ("elements[1].references", "error")]
    assert findings[0].message == "Element 1 has no frontal image." and "@Element1" in findings[0].fix
    assert str(findings[1]) == ("Element 2 has 5 reference images besides the frontal one; Kling O1 takes "
                                "1-4. Remove 1.")
    assert check_references([], [Element(media["ok"], (media["ok2"],) * 4)], SETTINGS) == []


def test_an_element_needs_at_least_one_reference_image(media):
    [f] = check_references([], [Element(media["ok"])], SETTINGS)
    assert f.field == "elements[0].references"
    assert str(f) == ("Element 1 has 0 reference images besides the frontal one; Kling O1 needs 1-4. "
                      "Add at least 1 picture of it from another angle (side, back).")


@pytest.mark.parametrize(("name", "words"), [
    ("tall", ["tall.png is 300x1,000 px", "aspect ratio (width / height) of 0.30", "0.4-2.5", "too tall"]),
    ("wide", ["wide.png is 1,300x500 px", "of 2.60", "0.4-2.5", "too wide", "at most 2.5"]),
])
def test_frontal_aspect_ratio_outside_0_4_to_2_5(media, name, words):
    [f] = check_references([], [Element(media[name], (media["ok"],))], SETTINGS)
    assert f.field == "elements[0].frontal"
    for word in words:
        assert word in str(f)


def test_aspect_ratio_is_a_frontal_rule_only(media):
    """fal's schema sets it on frontal_image_url alone: the same picture as a reference is fine."""
    assert check_references([media["tall"]], [Element(media["edge_tall"], (media["tall"],))], SETTINGS) == []


def test_only_the_two_tiers_may_be_submitted(media):
    from components.config import MODEL_ID, MODEL_ID_STANDARD
    from components.edit.checks import check_model

    assert check_model(MODEL_ID, SETTINGS) == [] and check_model(MODEL_ID_STANDARD, SETTINGS) == []
    [f] = check_model("fal-ai/flux-pro/v1.1-ultra", SETTINGS)
    assert f.field == "model" and "“fal-ai/flux-pro/v1.1-ultra” is not a model this studio runs" in f.message
    assert MODEL_ID in f.message and "Kling O1 Standard" in f.message
    request = EditRequest(prompt="Make it snow", video=media["video"], model="fal-ai/flux-pro/v1.1-ultra")
    assert [x.field for x in preflight(request, SETTINGS)] == ["model"]


def test_each_image_is_inspected_under_its_own_field(media):
    elements = [Element(media["text"], (media["ok"], media["ok"], media["tiny"]))]  # 3 references: fine
    findings = check_references([media["ok"], media["tiny"]], elements, SETTINGS)
    assert [f.field for f in findings] == ["images[1]", "elements[0].frontal", "elements[0].references[2]"]
    assert "tiny.png is 100x100 px" in findings[0].message
    assert "notes.png is text" in findings[1].message


def test_preflight_aggregates_video_prompt_and_references(media):
    request = EditRequest(prompt="Swap in @Element1 and @Image3", video=media["video"],
                          images=(media["ok"], media["tiny"]),
                          elements=(Element(media["ok2"], (media["ok"],)),))
    video = Finding("error", "video", "clip.mp4 is 2.1 s long; Kling O1 needs 3-10 s.", "Pick a longer clip.")
    findings = preflight(request, SETTINGS, [video])
    assert findings[0] == video
    fields = [(f.level, f.field) for f in findings]
    assert ("error", "prompt") in fields  # @Image3 dangles
    assert ("warning", "images[0]") in fields and ("warning", "images[1]") in fields
    assert ("error", "images[1]") in fields  # tiny
    assert preflight(request, SETTINGS) == findings[1:]


def test_ensure_ok_raises_all_errors_and_lets_warnings_pass():
    warning = Finding("warning", "images[0]", "Image 1 is attached but never mentioned.")
    ensure_ok([warning])
    ensure_ok([])
    errors = check_prompt("with @Image2 and @image1", 0, 0, SETTINGS)
    with pytest.raises(InputError) as caught:
        ensure_ok([warning, *errors])
    assert caught.value.findings == tuple(errors)
    assert str(caught.value).startswith("2 problems: @Image2 is mentioned")


def test_preflight_files_probes_the_video_and_runs_everything(tmp_path, media):
    ok = make_clip(tmp_path / "ok.mp4", seconds=3.2, width=1280, height=720, fps=24, audio=False, crf=45)
    request = EditRequest(prompt="Sky like @Image1", video=ok, images=(media["ok"],))
    assert preflight_files(request, SETTINGS) == []

    short = make_clip(tmp_path / "short.mp4", seconds=1, width=320, height=240, fps=8, audio=False)
    findings = preflight_files(EditRequest(prompt="Sky like @Image1", video=short), SETTINGS)
    video = [f for f in findings if f.field == "video"]
    assert len(video) == 4 and all(f.level == "error" for f in video)  # short, narrow, low, slow
    assert ("error", "prompt") in [(f.level, f.field) for f in findings]  # @Image1 attached nowhere


def test_preflight_files_turns_an_unreadable_video_into_a_finding(tmp_path):
    fake = make_text_as(tmp_path / "fake.mp4")
    [f] = preflight_files(EditRequest(prompt="Make it snow", video=fake), SETTINGS)
    assert (f.level, f.field) == ("error", "video") and "fake.mp4" in f.message


def test_a_marker_left_twice_is_one_finding_that_counts_them():
    findings = [f for f in check_prompt("Make [removed image] warm and [removed image] cold", 0, 0, SETTINGS)
                if "[removed image]" in f.message]
    assert len(findings) == 1 and "2 times" in findings[0].message
