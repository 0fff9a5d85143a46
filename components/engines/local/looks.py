"""The local preview's vocabulary: every look it can apply, the words that ask for it, and how it
is rendered.

A look is defined in one place so its phrasing, its filters and its order cannot drift apart.
Looks compose in a fixed order, whatever order the prompt names them in:

1. **stylise** - change the drawing itself (pixel art, cartoon, pencil sketch, oil painting,
   watercolor). ffmpeg stylisers run first, then OpenCV ones (per frame, in Python).
2. **palette** - the colours of the @Image/@Element references (Reinhard transfer, see palette.py).
3. **grade** - colour and tone (black and white, sepia, noir, warm, cold, night, contrast, neon).
4. **texture** - what sits on top of the picture (glow, VHS scanlines, film grain, vignettes).

Stylising before grading means "a sepia cartoon" is a cartoon toned sepia rather than a cartoon
drawn from already-brown frames; texture last keeps grain and scanlines crisp over every grade.
Within a stage the looks apply in ``VOCABULARY`` order (black and white before warm gives a
warm-toned monochrome, not a grey picture).

Filter chains are ffmpeg filtergraph snippets with one input and one output; ``{px}`` (pixel-art
block size) and ``{shift}`` (VHS colour bleed) are filled from the frame height, so a look reads
the same at 720p and 1080p.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

FrameFn = Callable[[np.ndarray], np.ndarray]  # BGR uint8 HxWx3 -> BGR uint8 HxWx3, same size

STAGES = ("stylise", "grade", "texture")  # palette transfer sits between stylise and grade


def _scale(frame: np.ndarray) -> float:
    """Filter sizes are tuned at 720p; scale them so a look reads the same at any size."""
    return max(frame.shape[0] / 720, 0.25)


def _quantize(levels: int) -> np.ndarray:
    step = 256 // levels
    return np.array([min(255, (v // step) * step + step // 2) for v in range(256)], np.uint8)


_CARTOON_LEVELS = _quantize(6)


def cartoon(frame: np.ndarray) -> np.ndarray:
    """Flat colour areas (bilateral smoothing at quarter size + quantised, livelier colours) inside
    dark ink outlines traced at full size."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(w // 4, 1), max(h // 4, 1)), interpolation=cv2.INTER_AREA)
    for _ in range(2):
        small = cv2.bilateralFilter(small, 5, 60, 5)
    flat = cv2.LUT(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), _CARTOON_LEVELS)
    grey = cv2.cvtColor(cv2.cvtColor(flat, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    flat = cv2.addWeighted(flat, 1.3, grey, -0.3, 0)  # saturation x1.3 around each pixel's grey
    gray = cv2.medianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 5)
    block = 2 * round(4 * _scale(frame)) + 1
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, max(block, 3), 6)
    return cv2.bitwise_and(flat, flat, mask=ink)


def pencil_sketch(frame: np.ndarray) -> np.ndarray:
    """Graphite on paper: a colour-dodge of the grey image with its blurred negative."""
    h, w = frame.shape[:2]
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    # The blur only keeps low frequencies, so it is computed at half size: 4x fewer pixels.
    small = cv2.resize(255 - gray, (max(w // 2, 1), max(h // 2, 1)), interpolation=cv2.INTER_AREA)
    blurred = cv2.resize(cv2.GaussianBlur(small, (0, 0), 3 * _scale(frame)), (w, h),
                         interpolation=cv2.INTER_LINEAR)
    sketch = cv2.divide(gray, 255 - blurred, scale=256)
    sketch = cv2.addWeighted(sketch, 0.85, np.full_like(sketch, 245), 0.15, 0)  # paper never pure white
    return cv2.cvtColor(sketch, cv2.COLOR_GRAY2BGR)


def _kuwahara(img: np.ndarray, radius: int) -> np.ndarray:
    """Kuwahara filter: each pixel takes the mean colour of its least varied quadrant, which
    flattens texture into brush-stroke patches while keeping edges. Box filters keep it O(1) per
    pixel whatever the radius; the per-quadrant pick is a masked copy, all in OpenCV."""
    k = (radius + 1, radius + 1)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    out = best = None
    for anchor in ((0, 0), (radius, 0), (0, radius), (radius, radius)):
        mean = cv2.boxFilter(img, -1, k, anchor=anchor, borderType=cv2.BORDER_REFLECT)
        g = cv2.boxFilter(gray, -1, k, anchor=anchor, borderType=cv2.BORDER_REFLECT)
        variance = cv2.sqrBoxFilter(gray, -1, k, anchor=anchor, borderType=cv2.BORDER_REFLECT) - g * g
        if out is None:
            out, best = mean, variance
            continue
        lower = cv2.compare(variance, best, cv2.CMP_LT)
        cv2.copyTo(mean, lower, out)
        best = cv2.min(best, variance)
    return out


def oil_painting(frame: np.ndarray) -> np.ndarray:
    """Thick, saturated brush patches (Kuwahara at half size, scaled back up)."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(w // 2, 1), max(h // 2, 1)), interpolation=cv2.INTER_AREA)
    painted = _kuwahara(small, max(2, round(4 * _scale(frame))))
    hsv = cv2.cvtColor(painted, cv2.COLOR_BGR2HSV)
    hsv[..., 1] = cv2.convertScaleAbs(hsv[..., 1], alpha=1.35)
    painted = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    return cv2.resize(painted, (w, h), interpolation=cv2.INTER_CUBIC)


def watercolor(frame: np.ndarray) -> np.ndarray:
    """Soft washes of lighter, paler colour with darker pooled edges, on paper white."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(w // 4, 1), max(h // 4, 1)), interpolation=cv2.INTER_AREA)
    washed = _kuwahara(cv2.medianBlur(small, 3), 2)
    washed = cv2.resize(washed, (w, h), interpolation=cv2.INTER_LINEAR)
    washed = cv2.addWeighted(washed, 0.75, np.full_like(washed, 250), 0.25, 0)
    gray = cv2.cvtColor(washed, cv2.COLOR_BGR2GRAY)
    edges = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    pooled = cv2.cvtColor(255 - cv2.multiply(edges, 2), cv2.COLOR_GRAY2BGR)
    return cv2.multiply(washed, pooled, scale=1 / 255)


@dataclass(frozen=True)
class Look:
    """One entry of the vocabulary: the words that ask for it and its part in each stage."""

    key: str
    label: str  # how notes and the vocabulary name it
    synonyms: tuple[str, ...]  # regex fragments; " " is a run of spaces/hyphens, " ?" an optional one
    stylise: str = ""  # ffmpeg chain, before any OpenCV stylising
    frame: FrameFn | None = field(default=None, compare=False)  # OpenCV stylising, per frame
    grade: str = ""
    texture: str = ""

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        body = "|".join(s.replace(" ?", r"[\s-]*").replace(" ", r"[\s-]+") for s in self.synonyms)
        return re.compile(rf"(?<![\w@])(?:{body})(?![\w])", re.IGNORECASE)

    def chain(self, stage: str) -> str:
        return getattr(self, stage)


def _contrast(amount: float) -> str:
    """Luma contrast around mid-grey, as a lookup table. FFmpeg's ``eq`` says it shorter, but eq is
    GPL-only and the FFmpeg inside PyAV, which runs these chains in the OpenCV frame loop, lacks it;
    saturation is ``hue=s=`` for the same reason."""
    return f"lutyuv=y='(val-128)*{amount:g}+128'"


_VIGNETTE = "vignette=angle=PI/5"
_GLOW = ("format=gbrp,split[glow_a][glow_b];[glow_b]gblur=sigma={glow}[glow_c];"
         "[glow_a][glow_c]blend=all_mode=screen:all_opacity=0.6")

VOCABULARY: tuple[Look, ...] = (
    Look("pixel_art", "pixel art",
         (r"pixel art", r"pixel(?:ated|ized|ised|ate|ize|ise)", r"8 ?bit", r"16 ?bit",
          r"retro (?:video )?games?", r"video game look", r"blocky"),
         stylise="pixelize=w={px}:h={px}:m=avg,"
                 "lutrgb=r='bitand(val,224)+16':g='bitand(val,224)+16':b='bitand(val,192)+32'"),
    Look("cartoon", "cartoon",
         (r"cartoon\w*", r"comics?(?: book)?", r"anime", r"manga", r"cel shad\w*", r"toon(?:ish)?",
          r"animated (?:film|movie|style|look|series)"),
         frame=cartoon),
    Look("pencil_sketch", "pencil sketch",
         (r"pencil(?: sketch\w*| drawing)?", r"sketch\w*", r"charcoal", r"graphite", r"line art",
          r"hand drawn", r"drawing"),
         frame=pencil_sketch),
    Look("oil_painting", "oil painting",
         (r"oil paint\w*", r"oil on canvas", r"painterly", r"impressionis\w+", r"van gogh", r"painting",
          r"painted"),
         frame=oil_painting),
    Look("watercolor", "watercolor",
         (r"water ?colou?r(?:ed|s)?(?: painting)?", r"aquarelle", r"gouache"),
         frame=watercolor),
    Look("black_and_white", "black and white",
         (r"black (?:and|&|n) white", r"b ?& ?w", r"b/w", r"gr[ae]y ?scale", r"monochrom\w*",
          r"desaturat\w*", r"colou?rless", r"(?:remove|drain|strip) (?:the |all )?colou?rs?",
          r"no colou?rs?"),
         grade=f"hue=s=0,{_contrast(1.08)}"),
    Look("sepia", "sepia / vintage film",
         (r"sepia", r"vintage", r"old (?:film|movie|photo\w*|footage|timey|fashioned)s?", r"antique",
          r"silent (?:film|movie)s?", r"19[0-4]0s", r"nostalgic", r"faded"),
         grade="colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131,"
               "curves=all='0/0.06 1/0.92'",
         texture=f"format=yuv420p,noise=c0s=18:c0f=a,{_VIGNETTE}"),
    Look("film_noir", "film noir",
         (r"(?:film )?noir", r"detective (?:film|movie)"),
         grade="hue=s=0,curves=preset=strong_contrast",
         texture="vignette=angle=PI/4,format=yuv420p,noise=c0s=18:c0f=a"),
    Look("warm", "warm / golden hour",
         (r"warm(?:er|th|ly)?", r"golden (?:hour|light|glow|tones?)", r"sunset", r"sunrise", r"dusk",
          r"magic hour", r"summer(?:y|time)?", r"amber", r"orange tint", r"sunny"),
         grade="curves=r='0/0 0.5/0.57 1/1':g='0/0 0.5/0.51 1/0.98':b='0/0 0.5/0.42 1/0.88',"
               "hue=s=1.1"),
    Look("cold", "cold / winter",
         (r"cold(?:er)?", r"cool(?:er)? (?:tones?|colou?rs?|look|grade|palette)", r"winter\w*", r"wintry",
          r"icy", r"frosty", r"blue hour", r"bluish", r"blue tint", r"chilly", r"arctic"),
         grade="curves=r='0/0 0.5/0.43 1/0.9':g='0/0 0.5/0.5 1/0.98':b='0/0.02 0.5/0.58 1/1',"
               "hue=s=0.9"),
    Look("night", "night (day for night)",
         (r"night(?:time|fall)?", r"day for night", r"midnight", r"moon ?lit", r"moonlight", r"after dark"),
         grade="hue=s=0.5,"
               "curves=r='0/0 0.5/0.14 1/0.5':g='0/0 0.5/0.18 1/0.58':b='0/0.02 0.5/0.3 1/0.8'",
         texture=_VIGNETTE),
    Look("high_contrast", "high contrast",
         (r"high(?:er)? contrast", r"hi contrast", r"more contrast", r"contrasty", r"punchy",
          r"dramatic", r"crushed blacks", r"(?:increase|boost) (?:the )?contrast"),
         grade="curves=preset=strong_contrast,hue=s=1.15"),
    Look("neon", "neon / cyberpunk",
         (r"neon", r"cyber ?punk", r"synthwave", r"vaporwave", r"blade runner", r"futuristic"),
         grade="colorchannelmixer=rr=.9:rg=.2:gg=.8:bb=.9:bg=.3,"
               "curves=r='0/0 0.5/0.55 1/1':g='0/0 0.5/0.42 1/0.9':b='0/0.1 0.5/0.6 1/1',"
               f"{_contrast(1.2)},hue=s=1.8"),
    Look("glow", "soft dreamy glow",
         (r"dream\w*", r"soft glow", r"glow\w*", r"bloom", r"ethereal", r"hazy", r"haze", r"soft focus",
          r"diffus\w+", r"misty"),
         texture=_GLOW),
    Look("vhs", "VHS / retro tape",
         (r"vhs", r"vcr", r"camcorder", r"(?:video )?tape", r"retro", r"analog(?:ue)? video",
          r"(?:19)?[89]0s", r"lo ?fi", r"found footage", r"glitch\w*"),
         grade=f"{_contrast(0.95)},hue=s=1.3",
         texture="rgbashift=rh=-{shift}:bh={shift},gblur=sigma=1.2:sigmaV=0.01,format=yuv420p,noise=c0s=20:c0f=a,"
                 "drawgrid=w=iw:h=3:t=1:c=black@0.35"),
    Look("film_grain", "film grain",
         (r"(?:film )?grain\w*", r"noisy"),
         texture="format=yuv420p,noise=c0s=30:c0f=a"),
)

BY_KEY: dict[str, Look] = {look.key: look for look in VOCABULARY}


def geometry(height: int) -> dict[str, int]:
    """Values for a chain's size placeholders, from the frame height."""
    return {"px": max(4, 2 * round(height / 120)), "shift": max(1, round(height / 240)),
            "glow": max(2, round(height / 60))}


def describe_vocabulary() -> str:
    """One sentence listing what the local preview can do, for errors and help text."""
    return ", ".join(look.label for look in VOCABULARY)
