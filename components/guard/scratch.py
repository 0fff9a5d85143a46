"""Files the server makes for a session before any job exists: fetched links, fixed clips and
restored attachments.

They live in one folder outside the data folder (the job runner copies what a job needs into the
job's own folder on submit), and every file there is disposable. A restored attachment is kept once
per content (``folder_for``), however often it is restored. Making a new folder also prunes
the ones older than ``max_age_s`` (at most every quarter of that), so the folder stays bounded by
what was made recently, with no timer thread of its own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import threading
import time
import uuid
from pathlib import Path


class Scratch:
    def __init__(self, root: Path, max_age_s: float) -> None:
        self.root = Path(root)
        self.max_age_s = max_age_s
        self._last_prune = 0.0
        self._lock = threading.Lock()
        self._salt = secrets.token_bytes(16)

    def new_folder(self) -> Path:
        """A fresh folder for one fetched or fixed file."""
        now = time.time()
        with self._lock:
            due = now - self._last_prune >= self.max_age_s / 4
            if due:
                self._last_prune = now
        if due:
            self.prune(now=now)
        path = self.root / uuid.uuid4().hex
        path.mkdir(parents=True, exist_ok=True)
        return path

    def folder_for(self, digest: str) -> Path:
        """The one folder for the content whose sha256 is ``digest``, made if need be and marked as
        used now (pruning goes by a folder's last change), so what is still asked for stays. Its
        name is keyed with this process's own salt: from a path, a client cannot tell whether
        somebody's file holds content it knows."""
        name = hashlib.sha256(self._salt + digest.encode()).hexdigest()[:32]
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        os.utime(path)
        return path

    def prune(self, *, now: float | None = None) -> int:
        """Remove folders last changed more than ``max_age_s`` ago; returns how many went."""
        if not self.root.is_dir():
            return 0
        cutoff = (time.time() if now is None else now) - self.max_age_s
        removed = 0
        for folder in self.root.iterdir():
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
            except OSError:
                continue  # removed by another pass meanwhile
        return removed
