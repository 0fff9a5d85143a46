"""How every message writes a size and a duration: one unit (MB, see config.MB), one style."""

from __future__ import annotations

from components.config import MB


def human_size(n: int, beside: int | None = None) -> str:
    """Bytes in the one unit every message uses, MB = 1024 x 1024 bytes (``config.MB``, the unit
    the limits are set in; GB = 1024 MB): "200 MB", "12.3 MB", "640 KB", "500 bytes", "5 GB".

    ``beside`` is a limit shown in the same sentence: decimals are added until the two read
    differently, so a file over "10 MB" never reads as "10 MB" itself.
    """
    for digits in (1, 2, 3):
        text = _size(n, digits)
        if beside is None or n == beside or text != _size(beside, digits):
            return text
    return f"{n:,} bytes"


def _size(n: int, digits: int) -> str:
    for unit, scale in (("GB", 1024 * MB), ("MB", MB)):
        if n >= scale:
            return f"{n / scale:.{digits}f}".rstrip("0").removesuffix(".") + f" {unit}"
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def human_duration(value: float) -> str:
    """A clip's or a part's length as messages show it: one decimal and the unit, "12.0 s"."""
    return f"{value:.1f} s"


def seconds(value: float) -> str:
    """A limit in seconds without a needless ".0": 3 -> "3", 2.5 -> "2.5", 10.05 -> "10.05"."""
    return f"{value:g}"


def human_count(n: int, noun: str) -> str:
    """``n`` things in words: "1 file", "4 files" (never "4 file(s)")."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
