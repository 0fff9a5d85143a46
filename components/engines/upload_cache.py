"""Which local files fal already has: content hash -> uploaded URL, per key, until the URL expires.

Re-editing with the same clip is the common case (tweak the prompt, try again); without this cache
every try re-sends up to 200 MB. Entries are keyed by the key's one-way fingerprint and the file's
sha256, so two keys never share an entry and no key is ever stored (the key id is keyed with the
data folder's secret, see FalEngine). The map is persisted to
``data_dir/upload_cache.json`` (URLs and expiry times only) so a restart keeps it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from components.atomic import atomic_output

# An entry is dropped this long before its URL expires, so a job queued for a while still finds
# its inputs when fal fetches them.
SAFETY_MARGIN_S = 2 * 3600


class UploadCache:
    """Thread-safe map (fingerprint, sha256) -> (url, expires_at); optionally persisted as JSON."""

    _shared: ClassVar[dict[Path, UploadCache]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, float | str]] = self._load()

    @classmethod
    def shared(cls, path: Path) -> UploadCache:
        """One cache object per file in this process, so every engine sees every upload."""
        resolved = Path(path).resolve()
        with cls._shared_lock:
            if resolved not in cls._shared:
                cls._shared[resolved] = cls(resolved)
            return cls._shared[resolved]

    def get(self, fingerprint: str, digest: str) -> str | None:
        with self._lock:
            entry = self._entries.get(_entry_key(fingerprint, digest))
            if entry is None or float(entry["expires_at"]) - SAFETY_MARGIN_S <= self._clock():
                return None
            return str(entry["url"])

    def put(self, fingerprint: str, digest: str, url: str, ttl_s: float) -> None:
        with self._lock:
            now = self._clock()
            self._entries = {k: v for k, v in self._entries.items() if float(v["expires_at"]) > now}
            self._entries[_entry_key(fingerprint, digest)] = {"url": url, "expires_at": now + ttl_s}
            self._save()

    def __len__(self) -> int:
        return len(self._entries)

    def _load(self) -> dict[str, dict[str, float | str]]:
        if self._path is None or not self._path.exists():
            return {}
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return {}  # a damaged cache only costs a re-upload
        now = self._clock()
        return {k: v for k, v in data.items()
                if isinstance(v, dict) and "url" in v and float(v.get("expires_at", 0)) > now}

    def _save(self) -> None:
        if self._path is None:
            return
        with atomic_output(self._path) as part:
            part.write_text(json.dumps(self._entries))


def _entry_key(fingerprint: str, digest: str) -> str:
    return f"{fingerprint}:{digest}"
