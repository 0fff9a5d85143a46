"""Local preview rendering, measured on pixels: every look changes the picture the way its name
says, keeps frame count, rate, size and timing, and renders the same frames twice."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from components.edit.request import EditRequest, Element
from components.engines.base import CancelToken
from components.engines.local import LocalEngine
from components.engines.local.looks import BY_KEY, VOCABULARY, geometry
from components.engines.local.render import Recipe, recipe, render
from components.errors import InputError
from components.media.ffmpeg import ffmpeg_exe
from components.media.probe import probe
from tests.mediagen import make_clip, make_gradient_image, make_image

pytestmark = pytest.mark.slow  # seconds of encoding: run before the quick modules

W, H = 320, 240


def edit(request: EditRequest, workdir: Path):
    return asyncio.run(LocalEngine().edit(request, workdir, lambda event: None, CancelToken()))


def frames(path: Path) -> np.ndarray:
    """Every decoded frame as RGB, shape (n, h, w, 3)."""
    info = probe(path)
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, info.height, info.width, 3)


def frame_times(path: Path) -> list[float]:
    """Presentation times of the video packets (no decoding), sorted."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
                          "-f", "framecrc", "-"], capture_output=True, text=True, check=True).stdout
    num, den = next(line for line in out.splitlines() if line.startswith("#tb 0:")).split()[-1].split("/")
    pts = sorted(int(line.split(",")[2]) for line in out.splitlines() if line.startswith("0,"))
    return [p * int(num) / int(den) for p in pts]


def saturation(a: np.ndarray) -> float:
    return float(np.mean([cv2.cvtColor(f, cv2.COLOR_RGB2HSV)[..., 1].mean() for f in a]))


def luma(a: np.ndarray) -> np.ndarray:
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in a])


def red_blue(a: np.ndarray) -> float:
    return float(a[..., 0].mean() / a[..., 2].mean())


def sharpness(a: np.ndarray) -> float:
    """Laplacian variance: high-frequency detail (edges, texture, noise)."""
    return float(np.mean([cv2.Laplacian(g, cv2.CV_32F).var() for g in luma(a)]))


def lab_ab(a: np.ndarray) -> np.ndarray:
    lab = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2LAB) for f in a[::4]]).astype(np.float32)
    return lab[..., 1:].reshape(-1, 2).mean(axis=0) - 128


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("local_render") / "clip.mp4", seconds=1, width=W, height=H,
                     fps=25)


@pytest.fixture(scope="module")
def source(clip) -> np.ndarray:
    return frames(clip)


def _mid_tones(a: np.ndarray) -> float:
    return float(((a > 48) & (a < 208)).mean())


def _blockiness(a: np.ndarray, block: int) -> float:
    n, h, w, _ = a.shape
    h, w = h - h % block, w - w % block
    tiles = a[:, :h, :w].reshape(n, h // block, block, w // block, block, 3).astype(np.float32)
    return float(tiles.std(axis=(2, 4)).mean())


def _ink(out: np.ndarray, src: np.ndarray) -> float:
    """Share of pixels drawn near-black where the source was not dark: outlines."""
    return float(((luma(out) < 50) & (luma(src) > 100)).mean())


def _grain(a: np.ndarray) -> float:
    """Mean distance of each pixel from its neighbourhood's median: speckle, not edges."""
    return float(np.mean([np.abs(g.astype(np.int16) - cv2.medianBlur(g, 5)).mean() for g in luma(a)]))


def _magenta_cyan(a: np.ndarray) -> float:
    return float((a[..., 0].mean() + a[..., 2].mean()) / a[..., 1].mean())


PX = geometry(H)["px"]

# look key -> (prompt, check(output frames, source frames)); every look in the vocabulary has one.
CHECKS: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], bool]]] = {
    "pixel_art": ("pixel art", lambda o, s: _blockiness(o, PX) < 0.4 * _blockiness(s, PX)),
    "cartoon": ("cartoon", lambda o, s: _ink(o, s) > 0.01 and saturation(o) > 0.9 * saturation(s)),
    "pencil_sketch": ("pencil sketch", lambda o, s: saturation(o) < 10 and luma(o).mean() > 200),
    "oil_painting": ("oil painting",
                     lambda o, s: sharpness(o) < 0.3 * sharpness(s) and saturation(o) > 0.9 * saturation(s)),
    "watercolor": ("watercolor",
                   lambda o, s: sharpness(o) < 0.2 * sharpness(s) and luma(o).mean() > luma(s).mean() + 10),
    "black_and_white": ("black and white", lambda o, s: saturation(o) < 3 < 100 < saturation(s)),
    "sepia": ("sepia", lambda o, s: saturation(o) < 0.5 * saturation(s)
              and o[..., 0].mean() > o[..., 1].mean() > o[..., 2].mean()),
    "film_noir": ("film noir", lambda o, s: saturation(o) < 3 and luma(o).std() > 0.9 * luma(s).std()
                  and (luma(o) < 40).mean() > (luma(s) < 40).mean()),
    "warm": ("warm", lambda o, s: red_blue(o) > 1.04 * red_blue(s)),
    "cold": ("cold", lambda o, s: red_blue(o) < 0.96 * red_blue(s)),
    "night": ("make it night",
              lambda o, s: luma(o).mean() < 0.6 * luma(s).mean() and red_blue(o) < 0.8 * red_blue(s)),
    "high_contrast": ("high contrast", lambda o, s: _mid_tones(o) < 0.9 * _mid_tones(s)),
    "neon": ("neon", lambda o, s: _magenta_cyan(o) > 1.08 * _magenta_cyan(s)),
    "glow": ("dreamy glow",
             lambda o, s: sharpness(o) < 0.8 * sharpness(s) and luma(o).mean() > luma(s).mean() + 2),
    "vhs": ("VHS", lambda o, s: luma(o)[:, 0::3].mean() < 0.85 * luma(o)[:, 1::3].mean()),  # scanlines
    "film_grain": ("film grain", lambda o, s: _grain(o) > 2 * _grain(s)),
}


def test_every_look_has_a_pixel_check():
    assert set(CHECKS) == {look.key for look in VOCABULARY}


@pytest.mark.parametrize("key", list(CHECKS))
def test_look_changes_pixels_as_named_and_keeps_timing(key, clip, source, tmp_path):
    prompt, check = CHECKS[key]
    result = edit(EditRequest(prompt=prompt, video=clip), tmp_path / "a")
    assert result.notes[0] == f"Applied: {BY_KEY[key].label}."
    before, after = probe(clip), probe(result.video)
    assert (after.frame_count, after.fps, after.width, after.height) == \
        (before.frame_count, before.fps, before.width, before.height)
    assert after.duration == pytest.approx(before.duration, abs=0.02)
    assert after.video_codec == "h264" and after.pixel_format == "yuv420p"
    out = frames(result.video)
    assert check(out, source), key

    again = frames(edit(EditRequest(prompt=prompt, video=clip), tmp_path / "b").video)
    assert_same_picture(again, out)


def assert_same_picture(a: np.ndarray, b: np.ndarray) -> None:
    """The same frames, to within x264's coding decisions: an OpenCV look is encoded in this
    long-lived process, whose recycled memory x264's analysis partly reads, so a few decisions (not
    the look: under 0.5 of 255 on average) can differ between two renders. A look with any
    randomness in it differs by tens."""
    assert a.shape == b.shape
    per_frame = np.abs(a.astype(np.int16) - b).reshape(len(a), -1).mean(axis=1)
    assert per_frame.max() < 1.0, per_frame


def test_recipe_runs_stylise_then_palette_then_grade_then_texture(tmp_path):
    looks = [BY_KEY[k] for k in ("pixel_art", "cartoon", "sepia", "vhs")]
    r = recipe(looks, 720, clut=tmp_path / "clut.png")
    assert r.before == (BY_KEY["pixel_art"].stylise.format(**geometry(720)),)
    assert r.frame_fns == (BY_KEY["cartoon"].frame,)
    grades = [BY_KEY["sepia"].grade, BY_KEY["vhs"].grade]
    textures = [t.format(**geometry(720)) for t in (BY_KEY["sepia"].texture, BY_KEY["vhs"].texture)]
    assert list(r.after) == ["<palette>", *grades, *textures]


def test_grade_follows_stylise_in_the_pixels(clip, tmp_path):
    """Warm after a pencil sketch tints the grey paper; the other order would leave it grey."""
    out = frames(edit(EditRequest(prompt="warm pencil sketch", video=clip), tmp_path).video)
    assert saturation(out) < 40 and red_blue(out) > 1.05


def test_a_texture_with_a_graph_of_its_own_runs_after_opencv(clip, tmp_path):
    """The glow is a small graph (split, blur, screen blend): after a cartoon it runs in the frame
    loop's own libavfilter graph, and still brightens and softens the cartoon."""
    cartoon = frames(edit(EditRequest(prompt="cartoon", video=clip), tmp_path / "plain").video)
    glowing = frames(edit(EditRequest(prompt="a dreamy glow cartoon", video=clip), tmp_path / "glow").video)
    assert luma(glowing).mean() > luma(cartoon).mean() + 2
    assert sharpness(glowing) < 0.8 * sharpness(cartoon)


def test_toned_monochrome_grades_in_vocabulary_order(clip, tmp_path):
    out = frames(edit(EditRequest(prompt="warm, black and white", video=clip), tmp_path).video)
    assert red_blue(out) > 1.05


@pytest.mark.parametrize("prompt", ["sepia", "cartoon"])  # one ffmpeg process / the OpenCV frame loop
def test_variable_frame_rate_timestamps_survive(prompt, tmp_path):
    vfr = make_clip(tmp_path / "vfr.mp4", seconds=2, width=W, height=H, fps=30, vfr=True, audio=False)
    assert probe(vfr).vfr
    result = edit(EditRequest(prompt=prompt, video=vfr), tmp_path / "out")
    before, after = frame_times(vfr), frame_times(result.video)
    assert len(after) == len(before)
    assert max(abs(a - b) for a, b in zip(before, after, strict=True)) <= 0.001


@pytest.mark.parametrize("prompt", ["sepia", "cartoon"])
def test_odd_size_is_padded_to_even_and_said(prompt, tmp_path):
    odd = make_clip(tmp_path / "odd.mp4", seconds=0.4, width=161, height=121, fps=10, audio=False,
                    pix_fmt="yuv444p")
    result = edit(EditRequest(prompt=prompt, video=odd), tmp_path / "out")
    info = probe(result.video)
    assert (info.width, info.height, info.pixel_format, info.frame_count) == (162, 122, "yuv420p", 4)
    assert any("Padded 161x121 to 162x122" in note for note in result.notes)
    out = frames(result.video)
    assert np.abs(out[:, :, -1].astype(int) - out[:, :, -2]).mean() < 6  # edge repeated, not a black bar


def test_rotated_source_comes_out_upright_at_its_displayed_size(tmp_path):
    rotated = make_clip(tmp_path / "rot.mp4", seconds=0.4, width=W, height=H, fps=10, audio=False, rotate=90)
    for prompt in ("sepia", "cartoon"):
        info = probe(edit(EditRequest(prompt=prompt, video=rotated), tmp_path / prompt).video)
        assert (info.width, info.height, info.rotation) == (H, W, 0)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_the_frame_loop_turns_each_rotation_upright_as_ffmpeg_does(rotation, tmp_path):
    """PyAV decodes the frames as stored; the loop turns them as ffmpeg's own decode shows them,
    measured on pixels with a look that changes none (the identity)."""
    rotated = make_clip(tmp_path / "rot.mp4", seconds=0.4, width=W, height=H, fps=10, audio=False,
                        rotate=rotation)
    info = probe(rotated)
    render(info, Recipe(frame_fns=(lambda frame: frame,)), tmp_path / "out.mp4", keep_audio=False,
           on_progress=lambda fraction: None, cancel=CancelToken())
    shown, edited = frames(rotated), frames(tmp_path / "out.mp4")
    assert edited.shape == shown.shape
    assert np.abs(edited.astype(np.int16) - shown).mean() < 3  # encoding noise; a wrong turn is ~50


@pytest.mark.parametrize(("keep", "codec"), [(True, "aac"), (False, None)])
def test_audio_is_kept_or_dropped_as_asked(keep, codec, clip, tmp_path):
    for prompt in ("sepia", "cartoon"):
        result = edit(EditRequest(prompt=prompt, video=clip, keep_audio=keep), tmp_path / prompt)
        assert probe(result.video).audio_codec == codec


def test_keep_audio_without_audio_says_so(tmp_path):
    silent = make_clip(tmp_path / "silent.mp4", seconds=0.4, width=W, height=H, fps=10, audio=False)
    result = edit(EditRequest(prompt="sepia", video=silent, keep_audio=True), tmp_path / "out")
    assert probe(result.video).audio_codec is None
    assert "The source clip has no audio to keep." in result.notes


@pytest.mark.parametrize(("prompt", "applied"), [
    ("transform the landscape into @Image1", "palette of @Image1"),
    ("a cartoon in the colours of @Image1", "cartoon, palette of @Image1"),  # through the frame loop
])
def test_image_palette_moves_the_clip_toward_it(prompt, applied, clip, source, tmp_path):
    teal = make_gradient_image(tmp_path / "teal.png", [(0, 120, 140), (20, 160, 170), (0, 60, 80)])
    result = edit(EditRequest(prompt=prompt, video=clip, images=(teal,), keep_audio=True), tmp_path / "out")
    assert result.notes == [f"Applied: {applied}."]
    assert probe(result.video).audio_codec == "aac"
    ref = lab_ab(np.asarray(cv2.cvtColor(cv2.imread(str(teal)), cv2.COLOR_BGR2RGB))[None])
    before, after = lab_ab(source), lab_ab(frames(result.video))
    assert np.linalg.norm(after - ref) < 0.5 * np.linalg.norm(before - ref)


def test_element_palette_uses_its_frontal_and_reference_images(clip, source, tmp_path):
    frontal = make_image(tmp_path / "front.png", width=320, height=320, color=(230, 120, 20))
    side = make_image(tmp_path / "side.png", width=320, height=320, color=(240, 140, 30))
    element = Element(frontal=frontal, references=(side,))
    result = edit(EditRequest(prompt="in the colours of @Element1, with film grain", video=clip,
                              elements=(element,)), tmp_path / "out")
    assert result.notes == ["Applied: film grain, palette of @Element1."]
    assert red_blue(frames(result.video)) > 1.3 * red_blue(source)  # toward orange


def test_a_label_without_its_attachment_is_an_input_error(clip, tmp_path):
    with pytest.raises(InputError, match="@Image2"):
        edit(EditRequest(prompt="make it look like @Image2", video=clip,
                         images=(make_gradient_image(tmp_path / "a.png", [(1, 2, 3)]),)), tmp_path / "out")
