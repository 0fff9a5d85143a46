"""Colour transfer: move a clip's colours toward a reference picture's.

Reinhard et al.'s transfer matches the mean and spread of each channel in a perceptual space
(CIE Lab here), which moves the overall palette without needing any correspondence between the
pictures. It is one affine map per channel, the same for every frame, so it is computed once and
baked into a Hald CLUT image that ffmpeg's ``haldclut`` applies at full speed (a LUT lookup per
pixel instead of two colour-space conversions in Python). The CLUT travels as an extra ffmpeg
input, so no file path ever has to be escaped inside a filtergraph.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from components.errors import MediaError
from components.media.ffmpeg import ffmpeg_exe, media_error

_SAMPLE_SIDE = 256  # statistics need colours, not detail: small copies are as good and much faster
_RATIO_RANGE = (0.4, 2.5)  # a flat (or grey) source must not blow a channel up by 50x
HALD_LEVEL = 8  # 64 steps per channel in a 512x512 image: smooth enough, built in milliseconds


@dataclass(frozen=True)
class LabStats:
    """Mean and standard deviation of L, a, b (OpenCV's float Lab: L 0..100, a/b about -128..127)."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def lab_stats(pictures: Sequence[np.ndarray]) -> LabStats:
    """Pooled statistics of RGB uint8 pictures, each weighted equally whatever its size."""
    if not pictures:
        raise ValueError("lab_stats needs at least one picture")
    samples = []
    for rgb in pictures:
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)
        step = max(1, lab.shape[0] // 40_000)
        samples.append(lab[::step][:40_000])
    pooled = np.concatenate(samples)
    return LabStats(tuple(pooled.mean(axis=0).tolist()), tuple(pooled.std(axis=0).tolist()))


def load_picture(path: Path, field: str) -> np.ndarray:
    """A reference image as a small RGB array, upright (EXIF orientation applied)."""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((_SAMPLE_SIDE, _SAMPLE_SIDE))
            return np.asarray(img)
    except (OSError, UnidentifiedImageError) as e:
        raise MediaError(f"Could not read {Path(path).name} as an image ({e.__class__.__name__}).",
                         fix="Attach a PNG, JPEG or WEBP picture.", field=field) from None


def video_samples(video: Path, frame_count: int, samples: int = 8) -> list[np.ndarray]:
    """A few frames spread over the clip, small, as RGB arrays (decoded in one ffmpeg pass)."""
    every = max(1, frame_count // samples)
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(video),
           "-map", "0:v:0", "-vf", f"select='not(mod(n,{every}))',scale={_SAMPLE_SIDE}:{_SAMPLE_SIDE}",
           "-fps_mode", "passthrough", "-frames:v", str(samples), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    size = _SAMPLE_SIDE * _SAMPLE_SIDE * 3
    if proc.returncode != 0 or len(proc.stdout) < size:
        raise media_error(video, "read the colours of", proc.stderr.decode(errors="replace"))
    data = np.frombuffer(proc.stdout, np.uint8)[: len(proc.stdout) // size * size]
    return list(data.reshape(-1, _SAMPLE_SIDE, _SAMPLE_SIDE, 3))


def transfer(rgb: np.ndarray, source: LabStats, target: LabStats) -> np.ndarray:
    """Apply the Reinhard map (``source`` statistics -> ``target``) to RGB uint8 or float pixels."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / (255.0 if rgb.dtype == np.uint8 else 1.0),
                       cv2.COLOR_RGB2LAB)
    mean_s, std_s = np.array(source.mean, np.float32), np.array(source.std, np.float32)
    mean_t, std_t = np.array(target.mean, np.float32), np.array(target.std, np.float32)
    ratio = np.clip(std_t / np.maximum(std_s, 1e-3), *_RATIO_RANGE)
    lab = (lab - mean_s) * ratio + mean_t
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    out = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def identity_hald(level: int = HALD_LEVEL) -> np.ndarray:
    """The Hald CLUT that changes nothing: red varies fastest, then green, then blue."""
    n = level * level
    steps = np.linspace(0.0, 1.0, n, dtype=np.float32)
    b, g, r = np.meshgrid(steps, steps, steps, indexing="ij")
    side = level ** 3
    return np.stack([r, g, b], axis=-1).reshape(side, side, 3)


def write_transfer_clut(path: Path, source: LabStats, target: LabStats) -> Path:
    """Bake the transfer into a Hald CLUT PNG for ffmpeg's ``haldclut`` filter."""
    Image.fromarray(transfer(identity_hald(), source, target)).save(path)
    return path
