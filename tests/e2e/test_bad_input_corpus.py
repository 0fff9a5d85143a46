"""Bad input never crashes and never spends money.

Every case goes through the public ``/edit`` API of the real app (a subprocess whose server key is
accepted by the fake fal server, so fal is the engine each case would reach; shared, see
conftest.py). Each must come back
with its own clear sentence, and the fake's submit and upload counters must not move while it
runs: every refusal happened before anything left the machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.e2e.app_server import api_client, close_soon
from tests.mediagen import (
    make_audio,
    make_clip,
    make_image,
    make_png_header,
    make_text_as,
    make_truncated,
)

LOOK = "Make it look like @Image1"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("corpus")
    ok = make_clip(d / "ok.mp4", seconds=3.2, width=720, height=720, fps=24, crf=40)  # the smallest valid
    flat = {"source": "color", "audio": False, "crf": 45}  # the picture does not matter: size and timing do
    big_image = d / "big.jpg"
    big_image.write_bytes(make_image(d / "noise_src.png", width=600, height=600).read_bytes())
    with big_image.open("ab") as fh:  # valid JPEG followed by 11 MB of padding: over the 10 MB cap
        fh.write(b"\0" * (11 * 1024 * 1024))
    return {
        "ok": ok,
        "long": make_clip(d / "long.mp4", seconds=12, width=1280, height=720, fps=25, **flat),
        "short": make_clip(d / "short.mp4", seconds=2, width=1280, height=720, fps=25, **flat),
        "low": make_clip(d / "low.mp4", seconds=3.2, width=854, height=480, fps=25, **flat),
        "uhd": make_clip(d / "uhd.mp4", seconds=3.2, width=3840, height=2160, fps=5, **flat),
        "text_mp4": make_text_as(d / "notes.mp4"),
        "truncated": make_truncated(ok, d / "cut.mp4"),
        "empty": _empty(d / "empty.mp4"),
        "audio_only": make_audio(d / "voice.mp4", seconds=4),
        "png_as_mp4": _renamed(make_image(d / "frame.png"), d / "frame.mp4"),
        "mkv": make_clip(d / "clip.mkv", seconds=3.2, width=1280, height=720, fps=25, **flat),
        "film": make_clip(d / "film.mp4", seconds=3.5, fps="24000/1001", **flat),
        "screen": make_clip(d / "screen.mp4", seconds=3.5, fps=15, **flat),
        "slowmo": make_clip(d / "slowmo.mp4", seconds=3.5, fps=120, **flat),
        "vfr": make_clip(d / "capture.mp4", seconds=3.5, fps=30, vfr=True, audio=False, crf=45),
        "d102": make_clip(d / "d102.mp4", seconds=10.2, fps=25, **flat),
        # At every limit at once: the longest clip, the smallest sides, the lowest rate.
        "d1004": make_clip(d / "d1004.mp4", seconds=10.04, width=720, height=720, fps=24, **flat),
        "narrow": make_clip(d / "narrow.mp4", seconds=3.2, width=2400, height=720, fps=25, **flat),
        "tall": make_image(d / "tall.png", width=300, height=1000),
        "img": make_image(d / "ref.png"),
        "img2": make_image(d / "ref2.jpg", color=(20, 120, 200)),
        "gif": make_image(d / "anim.gif", fmt="GIF"),
        "tiny": make_image(d / "tiny.png", width=120, height=120),
        "wide": make_png_header(d / "wide.png", 8001, 400),
        "bomb": make_png_header(d / "bomb.png", 60000, 60000),
        "big_image": big_image,
        "text_png": make_text_as(d / "face.png"),
        "cut_jpg": make_truncated(make_image(d / "whole.jpg", width=900, height=900), d / "cut.jpg",
                                  keep=0.3),
    }


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _renamed(src: Path, dst: Path) -> Path:
    src.rename(dst)
    return dst


@pytest.fixture
def client(fal_app) -> Client:
    """A session of its own for each case (see ``api_client``)."""
    _, app = fal_app
    client = api_client(app.url)
    yield client
    close_soon(client)


def _f(p: Path):
    return handle_file(str(p))


# (case id, arguments besides the valid defaults, words the message must contain)
CASES: list[tuple[str, dict, list[str]]] = [
    # videos
    ("video: 12 s clip", {"video": "long"}, ["12.0 s", "3-10.05 s"]),
    ("video: 2 s clip", {"video": "short"}, ["2.0 s", "3-10.05 s"]),
    ("video: 10.2 s clip", {"video": "d102"}, ["Video is 10.2 s; Kling O1 accepts 3-10.05 s.",
                                               "Pass segments=True", "trim it to 10.05 s or less"]),
    ("video: 480p", {"video": "low"}, ["height is 480 px", "720-2160 px each"]),
    ("video: 4K", {"video": "uhd"}, ["width is 3840 px", "720-2160 px each"]),
    ("video: 2400x720", {"video": "narrow"}, ["width is 2400 px (2400x720)"]),
    ("video: 23.976 fps", {"video": "film"}, ["frame rate is 23.976 fps", "24-60 fps", "constant 24 fps"]),
    ("video: 15 fps", {"video": "screen"}, ["frame rate is 15 fps", "24-60 fps", "constant 24 fps"]),
    ("video: 120 fps", {"video": "slowmo"}, ["frame rate is 120 fps", "24-60 fps", "constant 60 fps"]),
    ("video: variable rate under 24 fps", {"video": "vfr"}, ["frame rate is variable", "fps on average",
                                                             "constant 30 fps"]),
    ("video: text renamed .mp4", {"video": "text_mp4"}, ["notes.mp4"]),
    ("video: truncated", {"video": "truncated"}, ["cut.mp4", "incomplete"]),
    ("video: empty file", {"video": "empty"}, ["empty.mp4"]),
    ("video: audio only", {"video": "audio_only"}, ["voice.mp4", "video"]),
    ("video: png renamed .mp4", {"video": "png_as_mp4"}, ["frame.mp4"]),
    ("video: mkv container", {"video": "mkv"}, ["MP4", "MOV"]),
    ("video: missing", {"video": None}, ["No clip is attached"]),
    # images
    ("image: gif", {"images": ["gif"], "prompt": LOOK}, ["anim.gif", "PNG"]),
    ("image: too small", {"images": ["tiny"], "prompt": LOOK}, ["tiny.png", "300"]),
    ("image: too wide", {"images": ["wide"], "prompt": LOOK}, ["wide.png", "8,000"]),
    ("image: decompression bomb", {"images": ["bomb"], "prompt": LOOK}, ["bomb.png"]),
    ("image: over 10 MB", {"images": ["big_image"], "prompt": LOOK}, ["big.jpg is 11 MB", "at most 10 MB"]),
    ("image: text renamed .png", {"images": ["text_png"], "prompt": LOOK}, ["face.png"]),
    ("image: truncated jpeg", {"images": ["cut_jpg"], "prompt": LOOK}, ["cut.jpg"]),
    # prompts
    ("prompt: empty", {"prompt": ""}, ["prompt", "empty"]),
    ("prompt: whitespace", {"prompt": "   \n\t "}, ["prompt", "empty"]),
    ("prompt: too long", {"prompt": "make it warm " * 220}, ["2,860", "2,500"]),
    ("prompt: @Image2 with one image", {"images": ["img"], "prompt": "Use @Image1 and @Image2"}, ["@Image2"]),
    ("prompt: @Element1 without elements", {"prompt": "Replace the man with @Element1"}, ["@Element1"]),
    ("prompt: lower-case label", {"images": ["img"], "prompt": "Make it look like @image1"},
     ["@image1", "Did you mean @Image1"]),
    ("prompt: zero-padded label", {"images": ["img"], "prompt": "Make it look like @Image01"},
     ["@Image01", "@Image1"]),
    ("prompt: removed marker", {"images": ["img"], "prompt": "Use @Image1 with [removed image]"},
     ["[removed image]"]),
    # element sets
    ("elements: no frontal", {"elements": [{"frontal": None, "references": ["img"]}],
                              "prompt": "Replace him with @Element1"}, ["frontal"]),
    ("elements: 5 angles", {"elements": [{"frontal": "img", "references": ["img2"] * 5}],
                            "prompt": "Replace him with @Element1"},
     ["Element 1 has 5 reference images besides the frontal one; Kling O1 takes 1-4.", "Remove 1."]),
    ("elements: no references", {"elements": [{"frontal": "img", "references": []}],
                                 "prompt": "Replace him with @Element1"},
     ["Element 1 has 0 reference images besides the frontal one; Kling O1 needs 1-4.", "another angle"]),
    ("elements: frontal of aspect 0.3", {"elements": [{"frontal": "tall", "references": ["img2"]}],
                                         "prompt": "Replace him with @Element1"},
     ["tall.png is 300x1,000 px", "aspect ratio (width / height) of 0.30", "0.4-2.5", "crop it"]),
    ("elements: frontal not an image", {"elements": [{"frontal": "text_png", "references": ["img"]}],
                                        "prompt": "Replace him with @Element1"}, ["face.png"]),
    ("references: 5 in all", {"images": ["img", "img2", "img"],
                              "elements": [{"frontal": "img", "references": ["img2"]},
                                           {"frontal": "img2", "references": ["img"]}],
                              "prompt": "@Image1 @Image2 @Image3 @Element1 @Element2"}, ["5", "4"]),
    # the model tier
    ("model: an endpoint the studio does not run", {"model": "fal-ai/flux-pro/v1.1-ultra"},
     ["“fal-ai/flux-pro/v1.1-ultra” is not a model this studio runs", "Kling O1 Standard"]),
    # keys
    ("key: refused by fal", {"fal_key": "wrong-id:wrong-but-well-formed-secret"}, ["fal key", "refused"]),
    ("key: pasted with spaces", {"fal_key": "abc def ghi jkl"}, ["fal key", "spaces"]),
    ("key: with a line break", {"fal_key": "key-id:sec\r\nret-1234567"}, ["fal key", "line breaks"]),
    ("key: not a key at all", {"fal_key": "hello"}, ["not shaped like a fal key"]),
    ("prompt: only invisible characters", {"prompt": "\u200b\u200c\u2060\ufeff"}, ["no visible words"]),
]


def _arguments(case: dict, media: dict[str, Path]) -> dict:
    video = case.get("video", "ok")
    args = {
        "video": _f(media[video]) if video else None,
        "prompt": case.get("prompt", "Make it black and white"),
        "images": [_f(media[i]) for i in case.get("images", [])],
        "elements": [{"frontal": _f(media[e["frontal"]]) if e["frontal"] else None,
                      "references": [_f(media[r]) for r in e["references"]]}
                     for e in case.get("elements", [])],
        "keep_audio": False,
        "fal_key": case.get("fal_key", ""),
    }
    if "model" in case:
        args["model"] = case["model"]
    return args


def test_corpus_has_at_least_thirty_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name, case, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_its_message_and_spends_nothing(fal_app, client, media, name, case, words):
    fake, _ = fal_app
    submits, uploaded = fake.submits, fake.uploaded_bytes  # what other tests of the module spent
    with pytest.raises(AppError) as err:
        client.predict(**_arguments(case, media), api_name="/edit")
    message = str(err.value)
    assert "Traceback" not in message
    for word in words:
        assert word in message, f"{name}: {word!r} missing from {message!r}"
    assert fake.submits == submits, f"{name} reached fal's submit"
    assert fake.uploaded_bytes == uploaded, f"{name} uploaded {fake.uploaded_bytes - uploaded} bytes"


def test_a_10_04_s_clip_at_the_limits_is_accepted_by_the_studio_and_by_fal(fal_app, client, media):
    """The schema's 10.05 s, not the prose's 10 s: a 10.04 s clip goes through, with an element at
    the top of its own range (4 angles), and fal (the fake, measuring the files) accepts it too."""
    fake, _ = fal_app
    before = fake.submits
    _, _, details = client.predict(**_arguments({
        "video": "d1004", "prompt": "Replace him with @Element1",
        "elements": [{"frontal": "img", "references": ["img2"] * 4}]}, media), api_name="/edit")
    assert details["engine"] == "fal" and fake.submits == before + 1
    assert not fake.jobs[details["request_id"]].detail  # fal's own checks (the fake's) passed


def test_the_app_still_edits_after_the_corpus(fal_app, client, media):
    """No case left the server broken: a valid edit through the same app succeeds with fal."""
    fake, _ = fal_app
    submits = fake.submits
    edited, side, details = client.predict(**_arguments({}, media), api_name="/edit")
    assert details["engine"] == "fal" and details["request_id"]
    assert Path(edited).stat().st_size > 0 and Path(side).stat().st_size > 0
    assert fake.submits == submits + 1
    assert not fake.jobs[details["request_id"]].detail
