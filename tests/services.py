"""The edit service as app.py composes it, over a test's own store and runner."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from components.admission.ratelimit import SessionLimiter
from components.admission.spend import ServerKeyGuard
from components.config import Settings
from components.guard.trusted_files import TrustedFiles
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from components.service import EditService
from components.share.store import ShareStore


def make_service(settings: Settings, runner: JobRunner, store: JobStore, roots: Iterable[Path], *,
                 limiter: SessionLimiter | None = None, **kwargs: Any) -> EditService:
    """Clients may name files under ``roots``; ``kwargs`` go to EditService (intents, local, writes)."""
    return EditService(settings, runner, TrustedFiles.of(list(roots)), ServerKeyGuard(settings, store),
                       limiter or SessionLimiter(100, 10), ShareStore(store), **kwargs)
