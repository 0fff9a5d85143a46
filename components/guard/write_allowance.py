"""What one client address may make the server write in a rolling hour: bytes, and files.

The disk is shared by every job and every visitor, so a public page bounds what a single client
can put on it, whichever way the writing is asked for: gradio's upload routes (counted by
``http_guard`` as the bytes arrive, each multipart part a file), the inputs an admitted edit
copies into its job folder (counted by the edit service before it copies them), a fetched link
and a fixed clip (counted by the video panel: ``kept``). Files are counted
apart from bytes because a file costs the disk an inode (gradio makes a folder and a file for each
upload) whatever its size: 4,000 one-byte uploads are 8,000 inodes and next to no bytes.

Counted in memory (``windows.SlidingWindow``) in one-minute buckets per address (at most 60 per
address, however many chunks an upload arrives in); a restart forgetting the counts only gives a
client a fresh hour.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.errors import RateLimitError
from components.guard.windows import SlidingWindow
from components.units import human_size

WINDOW_S = 3600.0
BUCKET_S = 60.0
RUN_IT_YOURSELF = "run the studio yourself for larger batches."


def _sum(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


@dataclass(frozen=True)
class Left:
    """What an address may still write this hour, and when its oldest writes stop counting."""

    bytes: int
    files: int
    wait_s: float  # seconds until the oldest counted write leaves the window (0 when none)


class WriteAllowance:
    def __init__(self, bytes_per_hour: int, files_per_hour: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bytes_per_hour = bytes_per_hour
        self.files_per_hour = files_per_hour
        # (bytes, files) written per address, in one-minute buckets.
        self._spent: SlidingWindow[tuple[int, int]] = SlidingWindow(WINDOW_S, clock, bucket_s=BUCKET_S,
                                                                    merge=_sum)
        self._lock = self._spent.lock

    def left(self, client: str) -> Left:
        with self._lock:
            return self._left(client)

    def spend(self, client: str, n_bytes: int = 0, files: int = 0) -> bool:
        """Count what was written; False once the client is over either allowance."""
        with self._lock:
            self._add(client, n_bytes, files)
            left = self._left(client)
            return left.bytes >= 0 and left.files >= 0

    def charge(self, client: str, n_bytes: int, files: int, what: str = "This upload") -> None:
        """Count a write about to happen, or raise ``RateLimitError`` (counting nothing) when it
        does not fit; ``what`` names it in the refusal ("This edit's files")."""
        with self._lock:  # check and count as one step: two requests cannot both take the last room
            left = self._left(client)
            if n_bytes > left.bytes or files > left.files:
                raise self.refusal(left, what, n_bytes=n_bytes, files=files)
            self._add(client, n_bytes, files)

    def kept(self, client: str, path: Path, what: str) -> Path:
        """Count the bytes of ``path``, a file just written for ``client`` whose size could not be
        known before (a fetched link; the file itself was charged first); over the allowance it is
        removed again and refused."""
        if not self.spend(client, path.stat().st_size):
            path.unlink(missing_ok=True)
            raise self.refusal(self.left(client), what)
        return path

    def refusal(self, left: Left, what: str = "This upload", *, n_bytes: int = 0,
                files: int = 0) -> RateLimitError:
        """The sentence for a write that does not fit: the limit, what the address wrote so far, and
        when to come back. ``what`` names the write ("This upload", "This edit's files")."""
        fix = f"Try again in {max(1, math.ceil(left.wait_s / 60))} min, or {RUN_IT_YOURSELF}"
        if (files and files > left.files) or left.files < 0:
            done = self.files_per_hour - left.files
            return RateLimitError(f"{what} would take your address past {self.files_per_hour:,} files "
                                  f"stored on this server in an hour ({done:,} so far).", fix=fix)
        done = self.bytes_per_hour - left.bytes
        size = f" ({human_size(n_bytes)})" if n_bytes else ""
        return RateLimitError(f"{what}{size} would take your address past {human_size(self.bytes_per_hour)} "
                              f"written to this server in an hour ({human_size(max(0, done))} so far).",
                              fix=fix)

    def _left(self, client: str) -> Left:
        spent = self._spent.values(client)
        return Left(self.bytes_per_hour - sum(b for b, _ in spent),
                    self.files_per_hour - sum(f for _, f in spent), self._spent.wait_s(client))

    def _add(self, client: str, n_bytes: int, files: int) -> None:
        self._spent.add(client, (n_bytes, files))
