"""Reference and element images: checked by content, and made upright before upload.

A file's extension says nothing (a ``.png`` may be text or a GIF), so the format is what Pillow
identifies. Checks read the header first and decode only an image whose size is already within
limits, so a huge or hostile file costs a header read, never its pixels.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from components.atomic import atomic_output
from components.config import MODEL_NAME, ImageLimits
from components.errors import Finding
from components.units import human_size

_ORIENTATION = 0x0112  # EXIF tag: how the stored pixels must be turned to be upright
_ROTATED = {5, 6, 7, 8}  # orientations that swap width and height
_FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
_METADATA_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "comment")  # what .info holds after open


@dataclass(frozen=True)
class ImageInfo:
    path: Path
    format: str  # Pillow's name: "PNG", "JPEG", "WEBP"
    width: int  # as displayed, after EXIF orientation
    height: int
    bytes: int
    orientation: int = 1  # EXIF orientation; 1 = stored upright

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


def inspect_image(path: Path, limits: ImageLimits, field: str = "image") -> ImageInfo | list[Finding]:
    """The image's facts when it is acceptable, else the findings (errors) that say why not.

    ``field`` names the attachment in the findings ("images[0]", "elements[1].frontal").
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return [Finding("error", field, f"{path.name} was not found.", "Attach the image again.")]
    result = _inspect(path, stat.st_size, limits)
    return [replace(f, field=field) for f in result] if isinstance(result, list) else result


def _inspect(path: Path, size: int, limits: ImageLimits) -> ImageInfo | list[Finding]:
    """Reads the header only (about a millisecond), so the page re-checks every attachment on each
    prompt edit without a cache to hide the work."""
    name = path.name
    field = "image"  # the caller puts in the real one
    names = [_FORMAT_NAMES.get(f, f) for f in limits.formats]
    allowed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    if size == 0:
        return [Finding("error", field, f"{name} is empty (0 bytes).", "Attach the image again.")]

    findings: list[Finding] = []
    if size > limits.max_bytes:
        findings.append(Finding(
            "error", field,
            f"{name} is {human_size(size, limits.max_bytes)}; images may be at most "
            f"{human_size(limits.max_bytes)}.",
            "Save it smaller (e.g. as JPEG, or at a lower resolution) and attach it again."))
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; treat both as "too big".
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        return [*findings, Finding(
            "error", field,
            f"{name} has too many pixels to open safely (over {Image.MAX_IMAGE_PIXELS:,}); "
            f"images may be at most {limits.max_side:,} px on either side.",
            "Scale it down and attach it again.")]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        what = "text, not an image" if _looks_like_text(path) else "damaged or not an image"
        return [*findings, Finding("error", field, f"{name} is {what}.",
                                   f"Attach a {allowed} picture.")]

    with im:
        fmt = im.format or "unknown"
        orientation = _orientation(im)
        w, h = im.size
        if orientation in _ROTATED:
            w, h = h, w
        if fmt not in limits.formats:
            findings.append(Finding("error", field, f"{name} is a {fmt} image; {MODEL_NAME} takes {allowed}.",
                                    f"Convert it to {allowed} and attach it again."))
        if min(w, h) < limits.min_side:
            findings.append(Finding(
                "error", field,
                f"{name} is {w:,}x{h:,} px; the short side must be at least {limits.min_side} px.",
                "Attach a larger picture (upscaled images work, but detail helps Kling)."))
        if max(w, h) > limits.max_side:
            findings.append(Finding(
                "error", field,
                f"{name} is {w:,}x{h:,} px; images may be at most {limits.max_side:,} px on either side.",
                "Scale it down and attach it again."))
        if findings:
            return findings
        damage = _decode_error(im)
    if damage:
        return [Finding("error", field, f"{name} is damaged or incomplete: {damage}.",
                        "Export or download the picture again and attach the new file.")]
    return ImageInfo(path, fmt, w, h, size, orientation)


def normalize_image(path: Path, out_dir: Path) -> Path:
    """An upright copy without metadata for upload, or ``path`` itself when it already is one.

    Phones store portraits sideways with an EXIF orientation tag; fal forwards the file as it is,
    so the model would see the picture on its side. EXIF also carries GPS positions a user did not
    mean to send. JPEG stays JPEG (quality 95, colour profile kept); everything else becomes PNG.
    The copy is named after the source's path and reused while it is newer than the source.
    """
    path = Path(path)
    with Image.open(path) as im:
        if _orientation(im) == 1 and not _has_metadata(im):
            return path
        ext = ".jpg" if im.format == "JPEG" else ".png"
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]
        out = Path(out_dir) / f"{path.stem}-upright-{digest}{ext}"
        if out.exists() and out.stat().st_mtime >= path.stat().st_mtime:
            return out
        icc = im.info.get("icc_profile")
        clean = ImageOps.exif_transpose(im)  # a new image, whatever the orientation
        # Keep what the pixels need; drop the rest of EXIF, XMP and text chunks.
        clean.info = {k: v for k, v in clean.info.items() if k == "transparency"}
        with atomic_output(out) as part:
            if ext == ".jpg":
                if clean.mode not in ("RGB", "L", "CMYK"):
                    clean = clean.convert("RGB")
                clean.save(part, "JPEG", quality=95, icc_profile=icc)
            else:
                clean.save(part, "PNG", icc_profile=icc)
    return out


def _orientation(im: Image.Image) -> int:
    """Read from the EXIF block found while opening: ``getexif()`` would decode a whole PNG to
    look for a trailing eXIf chunk, before its size was checked."""
    raw = im.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
    except (OSError, SyntaxError, ValueError):
        return 1
    value = exif.get(_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _has_metadata(im: Image.Image) -> bool:
    return any(k in im.info for k in _METADATA_KEYS)


def _decode_error(im: Image.Image) -> str | None:
    """Why the pixel data cannot be decoded, or None, without holding a full-size bitmap where the
    format allows: PNG checks every chunk's CRC through to IEND (``verify``), JPEG decodes at 1/8
    scale (``draft``) but still reads the whole stream, so a cut-off download shows either way."""
    try:
        if im.format == "PNG":
            im.verify()
            return None
        if im.format == "JPEG":
            im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        return "the file ends early" if "truncat" in str(error).lower() else "its picture data is corrupt"
    return None


def _looks_like_text(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(512)
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True

