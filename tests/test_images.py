"""Reference images: checked by content, limits with measured values, upright copies for upload."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from components.config import ImageLimits
from components.edit.images import ImageInfo, inspect_image, normalize_image
from components.errors import Finding
from tests.mediagen import make_image, make_png_header, make_text_as, make_truncated

LIMITS = ImageLimits()
SKIN, BODY = (250, 220, 180), (30, 60, 160)  # make_image's head (top) and body (bottom) colours


def errors(result: ImageInfo | list[Finding]) -> list[Finding]:
    assert isinstance(result, list), f"expected findings, got {result}"
    assert result and all(f.level == "error" for f in result)
    return result


def close(pixel, color, tol=40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(pixel[:3], color, strict=True))


@pytest.mark.parametrize("name, fmt", [("a.png", "PNG"), ("b.jpg", "JPEG"), ("c.webp", "WEBP"),
                                       ("d.jpeg", "JPEG")])
def test_supported_formats_pass_with_their_facts(tmp_path, name, fmt):
    path = make_image(tmp_path / name, width=500, height=320)
    info = inspect_image(path, LIMITS)
    assert isinstance(info, ImageInfo)
    assert (info.format, info.width, info.height, info.short_side) == (fmt, 500, 320, 320)
    assert info.bytes == path.stat().st_size


def test_format_is_judged_by_content_not_extension(tmp_path):
    jpeg_named_png = make_image(tmp_path / "photo.png", fmt="JPEG")
    info = inspect_image(jpeg_named_png, LIMITS)
    assert isinstance(info, ImageInfo) and info.format == "JPEG"


def test_gif_is_rejected_naming_file_and_allowed_formats(tmp_path):
    [f] = errors(inspect_image(make_image(tmp_path / "anim.gif"), LIMITS, "images[2]"))
    assert f.field == "images[2]"
    assert "anim.gif" in f.message and "GIF" in f.message
    assert "PNG, JPEG or WebP" in f.message


def test_too_small_reports_size_and_limit(tmp_path):
    [f] = errors(inspect_image(make_image(tmp_path / "tiny.png", width=299, height=600), LIMITS))
    assert "tiny.png is 299x600 px" in f.message and "300 px" in f.message and f.fix


def test_too_many_pixels_on_a_side_is_read_from_the_header(tmp_path):
    found = errors(inspect_image(make_image(tmp_path / "wide.png", width=8001, height=10), LIMITS))
    assert any("8,001x10 px" in f.message and "8,000 px" in f.message for f in found)
    # A header claiming 8001x4000 with no pixel data: rejected by size before anything is decoded.
    [f] = errors(inspect_image(make_png_header(tmp_path / "claims.png", 8001, 4000), LIMITS))
    assert "8,001x4,000 px" in f.message


@pytest.mark.parametrize("side", [10_000, 20_000])  # Pillow warns above ~89 Mpx, refuses above ~179 Mpx
def test_decompression_bomb_is_a_finding_not_a_warning_or_crash(tmp_path, side, recwarn):
    [f] = errors(inspect_image(make_png_header(tmp_path / "bomb.png", side, side), LIMITS))
    assert "bomb.png" in f.message and "too many pixels" in f.message and "8,000 px" in f.message
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_file_over_10_mb_is_rejected_with_its_size(tmp_path):
    path = make_image(tmp_path / "big.png")
    with path.open("ab") as f:  # bytes after IEND: still a valid PNG, just a heavy file
        f.write(b"\0" * (10 * 1024 * 1024 + 1))
    [f] = errors(inspect_image(path, LIMITS))
    assert f.message == "big.png is 10.003 MB; images may be at most 10 MB."  # never "10 MB > 10 MB"


def test_truncated_jpeg_and_png_are_damaged(tmp_path):
    for name in ("photo.jpg", "photo.png"):
        whole = make_image(tmp_path / f"whole-{name}")
        cut = make_truncated(whole, tmp_path / name, keep=0.5)
        [f] = errors(inspect_image(cut, LIMITS))
        assert f.message == f"{name} is damaged or incomplete: the file ends early." and f.fix


def test_text_renamed_png_says_it_is_text(tmp_path):
    [f] = errors(inspect_image(make_text_as(tmp_path / "notes.png"), LIMITS))
    assert f.message == "notes.png is text, not an image."
    assert "PNG, JPEG or WebP" in f.fix


def test_random_bytes_empty_and_missing_files(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(os.urandom(2048))
    [f] = errors(inspect_image(junk, LIMITS))
    assert "junk.jpg is damaged or not an image" in f.message
    empty = tmp_path / "empty.png"
    empty.touch()
    assert "empty (0 bytes)" in errors(inspect_image(empty, LIMITS))[0].message
    assert "was not found" in errors(inspect_image(tmp_path / "gone.png", LIMITS))[0].message


def test_exif_rotated_dimensions_are_reported_upright(tmp_path):
    info = inspect_image(make_image(tmp_path / "p.jpg", width=400, height=300, exif_orientation=6), LIMITS)
    assert isinstance(info, ImageInfo)
    assert (info.width, info.height, info.orientation) == (300, 400, 6)


@pytest.mark.parametrize("name", ["portrait.jpg", "portrait.png"])
def test_normalize_turns_exif_orientation_6_into_upright_pixels(tmp_path, name):
    # Stored 400x300 with the head at the top; orientation 6 = "turn 90° clockwise to view",
    # so upright the picture is 300x400 with the head on the right and the body on the left.
    src = make_image(tmp_path / name, width=400, height=300, exif_orientation=6)
    out = normalize_image(src, tmp_path / "upload")
    assert out != src and out.parent == tmp_path / "upload"
    with Image.open(out) as im:
        assert im.size == (300, 400)
        assert im.format == ("JPEG" if name.endswith(".jpg") else "PNG")
        assert "exif" not in im.info and im.getexif().get(0x0112) is None
        rgb = im.convert("RGB")
        assert close(rgb.getpixel((225, 200)), SKIN)  # head, now on the right
        assert close(rgb.getpixel((60, 200)), BODY)  # body, now on the left
    assert normalize_image(src, tmp_path / "upload") == out  # reused, not rewritten


def test_normalize_strips_metadata_even_when_upright(tmp_path):
    src = make_image(tmp_path / "gps.jpg", exif_orientation=1)
    out = normalize_image(src, tmp_path / "upload")
    assert out != src
    with Image.open(out) as im:
        assert "exif" not in im.info


def test_normalize_returns_a_clean_upright_file_unchanged(tmp_path):
    src = make_image(tmp_path / "clean.png")
    assert normalize_image(src, tmp_path / "upload") == src
    assert not (tmp_path / "upload").exists()


def test_a_replaced_file_is_inspected_again(tmp_path):
    path = make_image(tmp_path / "ref.png", width=100, height=100)
    assert errors(inspect_image(path, LIMITS, "images[0]"))[0].field == "images[0]"
    assert errors(inspect_image(path, LIMITS, "elements[0].frontal"))[0].field == "elements[0].frontal"
    make_image(path, width=400, height=400)
    info = inspect_image(path, LIMITS)
    assert isinstance(info, ImageInfo) and info.width == 400
