"""Files that appear whole or not at all: a reader (a player, gradio's file route, a restarted
runner) never sees half an mp4, and a failed or cancelled write leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(out: Path) -> Iterator[Path]:
    """A private part file beside ``out`` (same folder, so the move is a rename) to write into; it
    becomes ``out`` when the block ends normally and is removed when it raises. Two writers of one
    ``out`` never share a part file, and the part keeps ``out``'s suffix for tools that read it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.parent / f".{out.stem}.{uuid.uuid4().hex[:8]}.part{out.suffix}"
    try:
        yield part
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
