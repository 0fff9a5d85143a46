"""Keeps the data folder bounded: old or excess job files go, the history rows stay.

Only finished jobs are ever touched: a queued, running or key-waiting job still needs its inputs,
and a paid result must not vanish while it downloads. The oldest finished job goes first, and its
row is marked expired with the reason, so history can say why the output is gone instead of
showing a broken player.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from components.config import Settings
from components.jobs.models import Job
from components.jobs.store import JobStore
from components.units import human_size

log = logging.getLogger(__name__)

_DAY = 86400.0
_GB = 1024**3


def apply_retention(store: JobStore, settings: Settings, *, now: float | None = None) -> list[Job]:
    """Remove files of finished jobs past the age cap, then the oldest ones while the jobs folder
    is over the size cap. Returns the jobs it expired (as now recorded)."""
    now = time.time() if now is None else now
    candidates = store.finished_with_files()
    expired: list[Job] = []

    cutoff = now - settings.retention_days * _DAY
    age_reason = f"Output removed after {settings.retention_days:g} days (retention)."
    keep: list[Job] = []
    for job in candidates:
        if (job.finished_at or job.updated_at) < cutoff:
            expired.append(_expire(store, job, age_reason))
        else:
            keep.append(job)

    cap = settings.retention_max_gb * _GB
    cap_text = human_size(int(cap))
    size_reason = f"Output removed to keep stored edits under {cap_text} (retention); the oldest go first."

    total = folder_bytes(store.jobs_root)
    for job in keep:
        if total <= cap:
            break
        size = folder_bytes(store.job_dir(job.id))
        if size:
            expired.append(_expire(store, job, size_reason))
            total -= size
    if expired:
        log.info("retention expired %d job(s); jobs folder now %s", len(expired),
                 human_size(folder_bytes(store.jobs_root)))
    return expired


def folder_bytes(path: Path) -> int:
    """Bytes under ``path``; files removed while walking (a finishing job) are skipped."""
    total = 0
    for f in Path(path).rglob("*"):
        try:
            if f.is_file():
                total += f.stat().st_size
        except FileNotFoundError:
            continue
    return total


def _expire(store: JobStore, job: Job, reason: str) -> Job:
    # Files first, row second: a crash in between leaves a row that the next pass expires again,
    # never a row that claims files are gone while they still fill the disk.
    shutil.rmtree(store.job_dir(job.id), ignore_errors=True)
    return store.update(job.id, expired=True, expired_reason=reason)
