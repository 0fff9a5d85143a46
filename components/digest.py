"""A file's content hash, shared by everything that keys work on a clip's content (the upload
cache, staging, the motion score's cached tracklets)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

_CHUNK = 1 << 20

_digest_memo: dict[tuple[str, int, int, int], str] = {}
_digest_locks: dict[tuple[str, int, int, int], threading.Lock] = {}
_digest_lock = threading.Lock()


def file_digest(path: Path) -> str:
    """sha256 of a file, read in chunks; remembered per (path, inode, size, mtime) so a clip that did
    not change on disk is hashed once per process, not once per edit."""
    st = os.stat(path)
    memo_key = (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    with _digest_lock:
        file_lock = _digest_locks.setdefault(memo_key, threading.Lock())
    with file_lock:  # edits started together with one clip hash it once, not once each
        known = _digest_memo.get(memo_key)
        if known:
            return known
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        _digest_memo[memo_key] = digest.hexdigest()
        return _digest_memo[memo_key]
