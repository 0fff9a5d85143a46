"""EditRequest (the one model of an edit) and Settings (every knob, read from the environment)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from components.config import MODEL_ID, MODEL_ID_STANDARD, Settings
from components.edit.request import EditRequest, Element
from components.secret import Secret

VIDEO, A, B, F1, R1, R2, F2 = (Path(p) for p in ("in/clip.mp4", "a.png", "b.jpg", "f1.png", "r1.png",
                                                   "r2.png", "f2.webp"))


def url_of(p: Path) -> str:
    return f"https://files.example/{p.name}"


def full_request() -> EditRequest:
    return EditRequest(prompt="Replace him with @Element1 in @Image2", video=VIDEO, images=(A, B),
                       elements=(Element(F1, (R1, R2)), Element(F2)), keep_audio=True,
                       extra={"source_url": "https://example.com/clip.mp4"})


def test_files_lists_video_images_then_each_element_in_order():
    request = full_request()
    assert request.files() == [VIDEO, A, B, F1, R1, R2, F2]
    assert (len(request.images), len(request.elements)) == (2, 2)


def test_fal_arguments_for_a_prompt_and_video_only_omit_empty_optionals():
    request = EditRequest(prompt="Make it snow", video=VIDEO)
    args = request.to_fal_arguments({VIDEO: url_of(VIDEO)})
    assert args == {"prompt": "Make it snow", "video_url": url_of(VIDEO), "keep_audio": False}


def test_fal_arguments_elements_have_exactly_fals_shape():
    request = full_request()
    args = request.to_fal_arguments({p: url_of(p) for p in request.files()})
    assert set(args) == {"prompt", "video_url", "keep_audio", "image_urls", "elements"}
    assert args["image_urls"] == [url_of(A), url_of(B)]
    assert args["keep_audio"] is True
    assert args["elements"] == [
        {"frontal_image_url": url_of(F1), "reference_image_urls": [url_of(R1), url_of(R2)]},
        {"frontal_image_url": url_of(F2), "reference_image_urls": []},
    ]
    for element in args["elements"]:
        assert set(element) == {"frontal_image_url", "reference_image_urls"}
    assert "extra" not in args and "source_url" not in json.dumps(args)  # UI-only facts never sent


def test_fal_arguments_need_a_url_for_every_file():
    request = full_request()
    urls = {p: url_of(p) for p in request.files() if p != R2}
    with pytest.raises(KeyError):
        request.to_fal_arguments(urls)


def test_to_dict_is_json_safe_and_round_trips():
    request = full_request()
    data = json.loads(json.dumps(request.to_dict()))
    assert data["video"] == "in/clip.mp4"
    assert data["elements"][1] == {"frontal": "f2.webp", "references": []}
    assert EditRequest.from_dict(data) == request


def test_round_trip_keeps_an_element_without_frontal_and_defaults():
    request = EditRequest(prompt="p", video=VIDEO, elements=(Element(None, (R1,)),))
    again = EditRequest.from_dict(request.to_dict())
    assert again == request and again.elements[0].frontal is None
    minimal = EditRequest.from_dict({"prompt": "p", "video": "v.mov"})
    assert minimal == EditRequest(prompt="p", video=Path("v.mov"))


def test_settings_defaults_match_the_model_contract():
    s = Settings()
    assert s.model_id == MODEL_ID == "fal-ai/kling-video/o1/video-to-video/edit"
    assert (s.prompt_max_chars, s.max_references) == (2500, 4)
    assert (s.min_element_references, s.max_element_references) == (1, 4)
    assert (s.video.min_seconds, s.video.max_seconds, s.video.max_bytes) == (3.0, 10.05, 200 * 1024 * 1024)
    assert (s.video.min_side, s.video.max_side, s.video.min_fps, s.video.max_fps) == (720, 2160, 24.0, 60.0)
    assert (s.image.min_side, s.image.max_side, s.image.max_bytes) == (300, 8000, 10 * 1024 * 1024)
    assert (s.image.min_aspect, s.image.max_aspect) == (0.4, 2.5)
    assert s.cost(5) == 0.84 and s.cost(10) == 1.68


def test_two_tiers_with_their_own_price_and_nothing_else():
    s = Settings.from_env({"STUDIO_PRICE_PER_SECOND": "0.2", "STUDIO_PRICE_PER_SECOND_STANDARD": "0.1"})
    assert [(t.id, t.name, t.price_per_second) for t in s.tiers] == [
        ("fal-ai/kling-video/o1/video-to-video/edit", "Kling O1", 0.2),
        (MODEL_ID_STANDARD, "Kling O1 Standard", 0.1)]
    assert s.tier() == s.tiers[0] and s.tier(MODEL_ID_STANDARD) == s.tiers[1]
    assert s.tier("fal-ai/flux/dev") is None
    assert s.cost(5, MODEL_ID_STANDARD) == 0.5 and s.cost(5) == 1.0
    assert Settings().cost(10, MODEL_ID_STANDARD) == 1.26


def test_the_tier_travels_with_the_request_and_old_records_mean_kling_o1():
    request = EditRequest(prompt="p", video=VIDEO, model=MODEL_ID_STANDARD)
    assert EditRequest.from_dict(request.to_dict()).model == MODEL_ID_STANDARD
    old = {k: v for k, v in request.to_dict().items() if k != "model"}
    assert EditRequest.from_dict(old).model == MODEL_ID
    assert "model" not in request.to_fal_arguments({VIDEO: "https://x/v.mp4"})  # an endpoint, no argument


def test_settings_from_an_empty_environment_are_the_defaults():
    assert Settings.from_env({}) == Settings()


def test_settings_from_env_parses_every_kind_of_value():
    s = Settings.from_env({
        "FAL_KEY": "  id:secret \n",
        "STUDIO_PRICE_PER_SECOND": "0.2",
        "STUDIO_PROMPT_MAX_CHARS": "100",
        "STUDIO_DATA_DIR": "/srv/studio",
        "STUDIO_ALLOW_USER_KEY": "no",
        "STUDIO_REQUIRE_USER_KEY": "TRUE",
        "STUDIO_MAX_RESULT_MB": "2",
        "STUDIO_QUEUE_TIMEOUT_S": "90.5",
        "STUDIO_LOCAL_CONCURRENCY": " 2 ",
        "STUDIO_RATE_LIMIT_PER_HOUR": "",  # blank means default
    })
    assert s.fal_key == Secret("id:secret") and s.fal_key.reveal() == "id:secret"
    assert s.price_per_second == 0.2 and s.cost(10) == 2.0
    assert s.prompt_max_chars == 100
    assert s.data_dir == Path("/srv/studio")
    assert (s.allow_user_key, s.require_user_key) == (False, True)
    assert s.max_result_bytes == 2 * 1024 * 1024
    assert s.queue_timeout_s == 90.5
    assert s.local_concurrency == 2
    assert s.rate_limit_per_hour == Settings().rate_limit_per_hour


@pytest.mark.parametrize("raw, expected", [("1", True), ("yes", True), ("On", True), ("0", False),
                                           ("off", False), ("nonsense", False), ("", True)])
def test_settings_boolean_spellings(raw, expected):
    assert Settings.from_env({"STUDIO_ALLOW_USER_KEY": raw}).allow_user_key is expected


def test_blank_fal_key_means_no_key_and_a_key_never_prints():
    assert Settings.from_env({"FAL_KEY": "   "}).fal_key is None
    s = Settings.from_env({"FAL_KEY": "id:very-secret"})
    assert "very-secret" not in repr(s) and "very-secret" not in str(s)
    assert copy.deepcopy(s).fal_key == s.fal_key


@pytest.mark.parametrize("env, words", [
    ({"STUDIO_PROMPT_MAX_CHARS": "abc"}, "STUDIO_PROMPT_MAX_CHARS='abc' is not a whole number"),
    ({"STUDIO_PRICE_PER_SECOND": "cheap"}, "STUDIO_PRICE_PER_SECOND='cheap' is not a number"),
    ({"STUDIO_MAX_UPLOAD_MB": "-5"}, "must not be negative"),
])
def test_settings_from_env_names_the_bad_variable(env, words):
    with pytest.raises(ValueError) as err:
        Settings.from_env(env)
    assert words in str(err.value)
    assert "default" in str(err.value)
