"""The one gate for file paths that arrive from a client.

Every gradio event is public API: a script can send any value in any slot, and gradio checks that a
file was really uploaded only for values it parses as FileData *with* ``meta``. A bare string, a
``{"path": ...}`` without meta, or a path inside a JSON value reaches a handler untouched, and a
handler that probes, copies or returns such a path turns the app into a file server for
``/proc/self/environ`` or ``data/owner.secret``. So handlers never use a client's path directly:
they pass it through ``TrustedFiles.require``, which accepts only regular files inside the folders
where gradio stores what it received (its upload folder) or where this server writes files it made
itself (the scratch folder of fetched and fixed clips), and the few public files the server offers
by name (the examples' media, which a pick hands the page as they are, without a copy). Anything
else is refused with one sentence that does not say whether the path exists.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.errors import InputError

NOT_AN_UPLOAD = "{what} was not uploaded to this page."
NOT_AN_UPLOAD_FIX = ("Upload the file again (drag it into the page, or pass it with handle_file in "
                     "gradio_client).")


@dataclass(frozen=True)
class TrustedFiles:
    """The folders whose files, and the single files, a handler may open when a client names them."""

    roots: tuple[Path, ...]
    files: frozenset[Path] = frozenset()

    @classmethod
    def of(cls, roots: Iterable[str | Path], files: Iterable[Path] = ()) -> TrustedFiles:
        resolved = []
        for root in roots:
            path = Path(root)
            path.mkdir(parents=True, exist_ok=True)
            resolved.append(path.resolve())
        return cls(tuple(resolved), frozenset(Path(f).resolve() for f in files))

    def require(self, value: Any, what: str = "The file", field: str = "file") -> Path:
        """The file ``value`` names (a path, FileData or its dict form) if it is trusted; else InputError."""
        path = self.find(value)
        if path is None:
            raise InputError(NOT_AN_UPLOAD.format(what=what), fix=NOT_AN_UPLOAD_FIX, field=field)
        return path

    def optional(self, value: Any, what: str = "The file", field: str = "file") -> Path | None:
        """Like ``require`` but an empty slot (None, "") is None rather than an error."""
        return None if _is_empty(value) else self.require(value, what, field)

    def require_all(self, values: Sequence[Any] | None, what: str, field: str) -> list[Path]:
        """Each item of a list slot (a gallery, a multi-file upload), numbered in the message."""
        if values is None:
            return []
        if not isinstance(values, (list, tuple)):
            raise InputError(f"{what} must be a list of uploaded files.", fix=NOT_AN_UPLOAD_FIX, field=field)
        return [self.require(_gallery_item(v), f"{what} {i}", f"{field}[{i - 1}]")
                for i, v in enumerate(values, start=1)]

    def find(self, value: Any) -> Path | None:
        raw = _raw_path(value)
        if raw is None or not raw or "\x00" in raw or len(raw) > 4096:
            return None
        try:
            path = Path(raw).resolve(strict=True)  # symlinks followed: the target is what is checked
            mode = path.stat().st_mode
        except (OSError, RuntimeError, ValueError):
            return None
        if not stat.S_ISREG(mode):  # /dev/zero, FIFOs, folders
            return None
        if path not in self.files and not any(path.is_relative_to(root) for root in self.roots):
            return None
        return path


def _raw_path(value: Any) -> str | None:
    """The path a client value names, in any shape gradio may hand a handler."""
    if isinstance(value, (str, Path)):
        return str(value)
    path = getattr(value, "path", None)  # gradio.data_classes.FileData and friends
    if isinstance(path, str):
        return path
    if isinstance(value, dict):
        inner = value.get("path")
        if isinstance(inner, str):
            return inner
        for key in ("video", "image", "file"):  # VideoData-like wrappers
            if isinstance(value.get(key), dict):
                return _raw_path(value[key])
    return None


def _gallery_item(value: Any) -> Any:
    """gr.Gallery hands over ``(path, caption)`` pairs; other lists hand over the file itself."""
    if isinstance(value, (list, tuple)) and value:
        return value[0]
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
