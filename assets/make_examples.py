"""Generate the example media the studio's Examples load: run ``python -m assets.make_examples``.

Everything is drawn here (OpenCV frames piped into the bundled ffmpeg), so the repository ships no
third-party media and the files can be rebuilt bit-for-bit-ish on any machine. Kept small
(< 2 MB together): a 5 s 1280x720 walk with a tone, two palettes (a snowy evening, a sunset),
and a character seen from the front and the side.

``EXAMPLES`` is the server-side list the studio's example picker offers: the page asks for an
example by its position in this list and never sends a file path. Each example's before/after
thumbnail is a real local-preview render of it, made here, so what the card shows is what one
click produces without a key.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 24, 5.0

CLIP = HERE / "walk.mp4"
LANDSCAPE = HERE / "winter_landscape.jpg"
FRONTAL = HERE / "robot_front.jpg"
SIDE = HERE / "robot_side.jpg"
SUNSET = HERE / "sunset_palette.jpg"
THUMBS = HERE / "examples"
PROMPT = ("Replace the walking figure with @Element1, keeping its stride, and transform the "
          "landscape into the snowy evening of @Image1.")
THUMB_SIZE = (192, 108)  # each half of a before/after card
THUMB_AT_S = 3.0  # the walker is mid-frame here


@dataclass(frozen=True)
class Example:
    """One one-click setup. Paths are the server's own files under assets/."""

    id: str
    title: str
    prompt: str
    images: tuple[Path, ...] = ()
    elements: tuple[tuple[Path, tuple[Path, ...]], ...] = ()  # (frontal, other angles)
    beyond: str = ""  # one line: what Kling O1 would do that the local preview does not
    clip: Path = CLIP

    @property
    def thumbnail(self) -> Path:
        return THUMBS / f"{self.id}.jpg"


EXAMPLES: tuple[Example, ...] = (
    Example("old-film", "A look: black and white film",
            "Make the whole video black and white, like an old film, with film grain.",
            beyond="Kling O1 would restage it as period footage: costume, set and camera of the era."),
    Example("sunset-palette", "A palette from @Image1",
            "Recolour the whole scene in the palette of @Image1.",
            images=(SUNSET,),
            beyond="Kling O1 would relight the scene as @Image1's sunset, not only borrow its colours."),
    # The title says what each engine makes of it: a presenter without a key must not promise a robot.
    Example("robot-swap", "Walker → robot: Kling O1 swaps; the preview recolours",
            PROMPT, images=(LANDSCAPE,), elements=((FRONTAL, (SIDE,)),),
            beyond="Kling O1 would replace the walker with the robot of @Element1 and add the snow; "
                   "the preview applies @Image1's colours."),
)


def main() -> None:
    write_clip(CLIP)
    write_landscape(LANDSCAPE)
    write_sunset(SUNSET)
    write_robot(FRONTAL, side=False)
    write_robot(SIDE, side=True)
    for example in EXAMPLES:
        write_thumbnail(example)
    made = [CLIP, LANDSCAPE, SUNSET, FRONTAL, SIDE, *(e.thumbnail for e in EXAMPLES)]
    total = sum(p.stat().st_size for p in made)
    print(f"wrote {', '.join(p.name for p in made)}: {total / 1e6:.2f} MB")


def write_thumbnail(example: Example) -> None:
    """Render the example with the local preview (as one click in the studio does without a key)
    and keep one frame of before and after, side by side, as a small JPEG."""
    from components.edit.request import EditRequest, Element
    from components.engines.base import CancelToken
    from components.engines.local import LocalEngine

    request = EditRequest(prompt=example.prompt, video=example.clip, images=example.images,
                          elements=tuple(Element(frontal=f, references=r) for f, r in example.elements))
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(LocalEngine().edit(request, Path(tmp), lambda _event: None, CancelToken()))
        halves = [_frame_at(path, THUMB_AT_S) for path in (example.clip, result.video)]
    card = np.concatenate([halves[0], np.full((THUMB_SIZE[1], 2, 3), 255, np.uint8), halves[1]], axis=1)
    THUMBS.mkdir(exist_ok=True)
    cv2.imwrite(str(example.thumbnail), card, [cv2.IMWRITE_JPEG_QUALITY, 82])


def _frame_at(path: Path, seconds: float) -> np.ndarray:
    """One frame as BGR at THUMB_SIZE, decoded by the bundled ffmpeg."""
    w, h = THUMB_SIZE
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-ss", str(seconds), "-i", str(path),
           "-frames:v", "1", "-vf", f"scale={w}:{h}", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def scene() -> np.ndarray:
    """A summer meadow: sky gradient, sun, hills, a path (BGR, as OpenCV draws)."""
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for y in range(HEIGHT):
        t = y / HEIGHT
        img[y] = (235 - 60 * t, 200 - 40 * t, 120 + 40 * t)  # light blue sky
    cv2.circle(img, (1080, 130), 60, (80, 220, 255), -1, cv2.LINE_AA)
    hills = np.array([[0, 470], [250, 400], [520, 450], [800, 380], [1100, 440], [1280, 410],
                      [1280, 720], [0, 720]], np.int32)
    cv2.fillPoly(img, [hills], (70, 160, 90), cv2.LINE_AA)
    cv2.rectangle(img, (0, 560), (WIDTH, 640), (120, 170, 200), -1)  # the path
    for x in range(60, WIDTH, 180):  # trees
        cv2.rectangle(img, (x - 6, 470), (x + 6, 520), (40, 70, 110), -1)
        cv2.circle(img, (x, 450), 34, (50, 130, 60), -1, cv2.LINE_AA)
    return img


def draw_walker(img: np.ndarray, t: float) -> None:
    """A stick figure walking left to right: swinging legs and arms, a bobbing head."""
    x = int(160 + (WIDTH - 320) * t / SECONDS)  # in frame from the first to the last frame
    phase = 2 * math.pi * 1.6 * t
    hip = (x, 520 + int(4 * abs(math.sin(phase))))
    neck = (x, hip[1] - 90)
    color, thick = (40, 40, 200), 12
    for sign in (1, -1):
        a = 0.45 * math.sin(phase) * sign
        foot = (int(hip[0] + 75 * math.sin(a)), int(hip[1] + 75 * math.cos(a)))
        cv2.line(img, hip, foot, color, thick, cv2.LINE_AA)
        hand = (int(neck[0] - 60 * math.sin(a)), int(neck[1] + 15 + 60 * math.cos(a)))
        cv2.line(img, (neck[0], neck[1] + 15), hand, color, thick - 2, cv2.LINE_AA)
    cv2.line(img, hip, neck, color, thick + 4, cv2.LINE_AA)
    cv2.circle(img, (neck[0], neck[1] - 30), 28, (150, 190, 240), -1, cv2.LINE_AA)


def write_clip(path: Path) -> None:
    background = scene()
    frames = int(FPS * SECONDS)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "-",
           "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={SECONDS}",
           "-c:v", "libx264", "-preset", "slow", "-crf", "30", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "48k", "-shortest", "-movflags", "+faststart", str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for n in range(frames):
        frame = background.copy()
        draw_walker(frame, n / FPS)
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("ffmpeg failed to encode the example clip")


def write_landscape(path: Path) -> None:
    """A snowy evening: the palette @Image1 hands to the edit."""
    w, h = 1024, 576
    img = np.zeros((h, w, 3), np.uint8)
    for y in range(h):
        t = y / h
        img[y] = (120 + 60 * t, 70 + 60 * t, 60 + 120 * t)  # violet dusk into warm horizon
    cv2.circle(img, (200, 120), 40, (230, 240, 250), -1, cv2.LINE_AA)  # moon
    snow = np.array([[0, 360], [300, 300], [600, 350], [1024, 290], [1024, 576], [0, 576]], np.int32)
    cv2.fillPoly(img, [snow], (245, 235, 230), cv2.LINE_AA)
    for x in range(80, w, 150):  # snowy pines
        pts = np.array([[x, 250], [x - 45, 370], [x + 45, 370]], np.int32)
        cv2.fillPoly(img, [pts], (70, 80, 40), cv2.LINE_AA)
        cv2.fillPoly(img, [np.array([[x, 250], [x - 18, 300], [x + 18, 300]], np.int32)],
                     (250, 250, 250), cv2.LINE_AA)
    rng = np.random.default_rng(7)
    for _ in range(300):
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), 2, (255, 255, 255), -1)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 80])


def write_sunset(path: Path) -> None:
    """A sunset over the sea: the warm magenta-to-gold palette of the palette example's @Image1."""
    w, h = 1024, 576
    img = np.zeros((h, w, 3), np.uint8)
    for y in range(h):
        t = y / (h * 0.62)
        if t <= 1:  # sky: deep purple at the top into orange and gold at the horizon
            img[y] = (150 - 120 * t, 30 + 140 * t, 110 + 145 * t)
        else:  # sea: dark teal with the sun's reflection added below
            u = (y - h * 0.62) / (h * 0.38)
            img[y] = (110 - 40 * u, 70 - 30 * u, 60 - 30 * u)
    cv2.circle(img, (620, int(h * 0.58)), 70, (80, 200, 255), -1, cv2.LINE_AA)
    for k in range(12):  # the sun's streak on the water
        y = int(h * 0.64 + k * 16)
        cv2.line(img, (560 + 4 * k, y), (680 - 4 * k, y), (70, 170, 240), 5, cv2.LINE_AA)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 80])


def write_robot(path: Path, *, side: bool) -> None:
    """A friendly orange robot on a plain background, from the front or in profile."""
    w, h = 600, 800
    img = np.full((h, w, 3), (235, 235, 235), np.uint8)
    body, dark = (40, 130, 240), (60, 60, 60)
    cx = w // 2
    if side:
        cv2.rectangle(img, (cx - 60, 170), (cx + 70, 300), body, -1)  # head in profile
        cv2.circle(img, (cx + 50, 225), 16, (255, 220, 120), -1, cv2.LINE_AA)  # one eye
        cv2.rectangle(img, (cx - 70, 320), (cx + 60, 560), body, -1)
        cv2.rectangle(img, (cx - 20, 340), (cx + 20, 520), dark, -1)  # arm
        cv2.rectangle(img, (cx - 40, 560), (cx + 20, 740), dark, -1)  # leg
        cv2.rectangle(img, (cx - 40, 730), (cx + 60, 760), dark, -1)  # foot forward
    else:
        cv2.rectangle(img, (cx - 90, 160), (cx + 90, 300), body, -1)
        for ex in (cx - 40, cx + 40):
            cv2.circle(img, (ex, 225), 18, (255, 220, 120), -1, cv2.LINE_AA)
        cv2.rectangle(img, (cx - 120, 320), (cx + 120, 560), body, -1)
        cv2.circle(img, (cx, 430), 35, (255, 220, 120), -1, cv2.LINE_AA)  # chest light
        for sx in (-1, 1):
            cv2.rectangle(img, (cx + sx * 125 - 20, 330), (cx + sx * 125 + 20, 530), dark, -1)
            cv2.rectangle(img, (cx + sx * 55 - 25, 560), (cx + sx * 55 + 25, 740), dark, -1)
    cv2.line(img, (cx, 160), (cx, 110), dark, 6, cv2.LINE_AA)  # antenna
    cv2.circle(img, (cx, 105), 12, (60, 60, 230), -1, cv2.LINE_AA)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    main()
