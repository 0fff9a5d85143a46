"""The one ffmpeg binary (imageio-ffmpeg's; there is no system ffmpeg nor ffprobe) and the two ways
we run it: to completion, or streamed with progress and cancel.

Every failure becomes a ``MediaError`` that names the file and says what to do, because the user
reads it: ffmpeg's own last line ("moov atom not found") means nothing to them.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import imageio_ffmpeg

from components.errors import JobCancelled, MediaError

ProgressFn = Callable[[float], None]  # fraction done, 0..1
CancelFn = Callable[[], bool]  # True once the user asked to stop

# ffmpeg's wording -> what it means for the user's file. First match wins.
_REASONS: tuple[tuple[str, str], ...] = (
    ("no such file or directory", "the file does not exist (it may have expired)"),
    ("misdetection possible", "its content does not look like any video format"),
    ("permission denied", "the file cannot be read (permission denied)"),
    ("is a directory", "it is a folder, not a file"),
    ("moov atom not found", "the file is incomplete: its index is missing, so the upload or download "
                            "was probably cut off"),
    ("partial file", "the file is incomplete: it ends before its last frame"),
    ("invalid data found when processing input", "it is not a video ffmpeg can read"),
    ("no space left on device", "the server ran out of disk space"),
)
_FIX = "Check that it is a complete MP4 or MOV video and upload it again."
_LOG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")


@cache
def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary (resolved once: the lookup touches the filesystem)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def media_error(file: Path, action: str, stderr: str) -> MediaError:
    """The user's sentence for an ffmpeg failure on ``file`` while doing ``action``."""
    return could_not(file, action, explain(stderr))


def could_not(file: Path, action: str, reason: str) -> MediaError:
    """"Could not <action> <name>: <reason>." with the one fix every unreadable clip gets."""
    return MediaError(f"Could not {action} {Path(file).name}: {reason}.", fix=_FIX, field="video")


def explain(stderr: str) -> str:
    """Translate ffmpeg's stderr into a short reason; fall back to its last meaningful line."""
    low = stderr.lower()
    for needle, reason in _REASONS:
        if needle in low:
            return reason
    lines = [_LOG_PREFIX.sub("", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Conversion failed", "Error opening"))]
    return f"ffmpeg said \"{lines[-1].rstrip('.')}\"" if lines else "ffmpeg failed without saying why"


def run(args: Sequence[str], *, file: Path, action: str,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ffmpeg args`` to completion and capture its text output.

    ``check=False`` is for reading ``ffmpeg -i`` headers, which always exit non-zero ("at least one
    output file must be specified"): the caller judges the output itself.
    """
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if check and proc.returncode != 0:
        raise media_error(file, action, proc.stderr)
    return proc


def run_streaming(args: Sequence[str], *, file: Path, action: str, duration: float,
                  on_progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                  background: bool = False) -> None:
    """Run an encode that writes a file, reporting progress and stopping when ``cancel()`` is true.

    Progress comes from ``-progress pipe:1`` (``out_time_us`` against ``duration``), so nothing but
    a few text lines passes through Python. stderr goes to a temporary file rather than a pipe: a
    chatty failure can then never fill a pipe buffer and stall ffmpeg while we read stdout.
    ``background`` is for work nobody is waiting to watch (the side-by-side download, made after
    the edit already plays): its ffmpeg runs at a lower CPU priority, so on a busy machine serving
    the pages and the clips they play comes first.
    """
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-nostats",
           "-progress", "pipe:1", "-stats_period", "0.25", *args]
    with tempfile.TemporaryFile("w+", errors="replace") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        if background:
            _lower_priority(proc.pid)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if cancel is not None and cancel():
                    raise JobCancelled(f"Cancelled before ffmpeg could {action} {Path(file).name}.")
                if on_progress is not None and duration > 0 and line.startswith("out_time_us="):
                    value = line.partition("=")[2].strip()
                    if value.lstrip("-").isdigit():
                        on_progress(min(max(int(value) / 1e6 / duration, 0.0), 1.0))
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if proc.returncode != 0:
            err.seek(0)
            raise media_error(file, action, err.read())
    if on_progress is not None:
        on_progress(1.0)


BACKGROUND_NICENESS = 10  # above the app's own: about a tenth of its CPU weight when both want the CPU


def _lower_priority(pid: int) -> None:
    # Already exited, or a platform without priorities: it runs as it is.
    with contextlib.suppress(OSError, AttributeError):
        niceness = min(19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICENESS)
        os.setpriority(os.PRIO_PROCESS, pid, niceness)


# The studio's one encode setting (conform, comparison, the local preview, benchmarks' baselines):
# H.264 that every browser and Kling O1 play, fast enough for 2 shared cores, CRF 21 so an edit is
# not judged against compression noise. +faststart puts the index first so a browser can start
# playing. Kept as options so the binary's arguments and PyAV's encoder (engines/local/frame_loop.py)
# are made from the same values.
H264_CODEC, H264_PIXEL_FORMAT = "libx264", "yuv420p"
H264_OPTIONS: dict[str, str] = {"preset": "veryfast", "crf": "21"}
H264_ARGS: tuple[str, ...] = ("-c:v", H264_CODEC, *(a for k, v in H264_OPTIONS.items() for a in (f"-{k}", v)),
                              "-pix_fmt", H264_PIXEL_FORMAT)


def even(value: float) -> int:
    """``value`` rounded to an even number of pixels, at least 2: the size rule of yuv420p (half-size
    colour planes) and of ffmpeg's ``scale=W:-2``."""
    return max(2, 2 * round(value / 2))


AAC_BITRATE = 128_000
AAC_ARGS: tuple[str, ...] = ("-c:a", "aac", "-b:a", str(AAC_BITRATE))
MP4_OPTIONS: dict[str, str] = {"movflags": "+faststart"}
MP4_ARGS: tuple[str, ...] = ("-movflags", MP4_OPTIONS["movflags"])
