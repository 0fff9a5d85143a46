"""Share links: an unguessable token that lets anyone holding it see one finished result.

A share row is (token, job, owner). The token is the only credential, so it is long
(``secrets.token_urlsafe(32)``: 256 random bits), shape-checked before any lookup, and every way a
token can fail (malformed, unknown, revoked, its result since removed) answers the same None.
Revoking deletes the row: nothing of a dead link is kept.

The table lives in the job store's SQLite file (one file to back up) and is read through the
JobStore, so whether a result may be shown is decided from the job row every time a link is
opened, never from a copy made when it was shared.

What a link serves are the two clips as they may leave the studio: remuxed without the metadata
the uploader's device wrote (GPS, device, title, creation times; ``media.scrub``), made once per
shared result in its job's folder (``shared/``), which revoking removes with the link.
"""

from __future__ import annotations

import re
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from components.errors import InputError, MediaError
from components.jobs.models import Job
from components.jobs.store import JobStore
from components.media.scrub import scrubbed

TOKEN_BYTES = 32
SHARED_FOLDER = "shared"  # in a shared result's job folder: the clips its link serves
# token_urlsafe(32): 43 characters of the URL-safe base64 alphabet, nothing else.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
_MAX_JOB_ID_CHARS = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS shares (
    token TEXT PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS shares_owner_created ON shares (owner, created_at);
"""


@dataclass(frozen=True)
class Share:
    """One active link, as its owner's history lists it."""

    token: str
    job_id: str
    created_at: float
    prompt: str


@dataclass(frozen=True)
class SharedResult:
    """Everything a link's visitor may see: the prompt and the two clips, nothing else."""

    prompt: str
    original: Path
    edited: Path
    engine: str = "fal"  # who made the edit: "fal" (Kling O1) or "local" (the studio's local preview)


def is_token(value: object) -> bool:
    return isinstance(value, str) and TOKEN_PATTERN.fullmatch(value) is not None


class ShareStore:
    """The ``shares`` table beside the ``jobs`` table, through the job store's connections: one
    store, one connection per thread, per process."""

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self._connect = jobs.connection
        self._connect().executescript(_SCHEMA)

    def create(self, job_id: object, owner: str) -> str:
        """The link token for ``owner``'s finished ``job_id``: the existing one when the result is
        already shared (one link per result), else a new one. Refuses with a sentence otherwise."""
        job = self._owned(job_id, owner)
        refusal = _unshareable(job, self.jobs.jobs_root)
        if refusal:
            raise InputError(refusal, fix="Pick a finished result from your history and share that.")
        assert job is not None
        existing = self._token_for(job.id, owner)
        if existing:
            return existing
        self._clean_clips(job)  # before the link exists: a clip that cannot be made is the owner's sentence
        token = secrets.token_urlsafe(TOKEN_BYTES)
        try:
            self._connect().execute("INSERT INTO shares (token, job_id, owner, created_at) "
                                    "VALUES (?, ?, ?, ?)", (token, job.id, owner, time.time()))
        except sqlite3.IntegrityError:  # the same result shared from two tabs at once: one link
            existing = self._token_for(job.id, owner)
            if existing is None:
                raise
            return existing
        return token

    def active_for_owner(self, owner: str) -> list[Share]:
        """``owner``'s links, newest first."""
        rows = self._connect().execute(
            "SELECT token, job_id, created_at FROM shares WHERE owner = ? ORDER BY created_at DESC",
            (owner,)).fetchall()
        shares = []
        for token, job_id, created_at in rows:
            job = self.jobs.get_for_owner(job_id, owner)
            shares.append(Share(token, job_id, created_at, job.request.get("prompt", "") if job else ""))
        return shares

    def token_for(self, job_id: object, owner: str) -> str | None:
        """The active link of ``owner``'s ``job_id``, if it has one."""
        job = self._owned(job_id, owner)
        return self._token_for(job.id, owner) if job else None

    def revoke(self, token: object, owner: str) -> bool:
        """Delete ``owner``'s link and the clips it served; False when ``token`` is not one of
        theirs (or not a token)."""
        if not is_token(token):
            return False
        conn, mine = self._connect(), (token, owner)
        row = conn.execute("SELECT job_id FROM shares WHERE token = ? AND owner = ?", mine).fetchone()
        cur = conn.execute("DELETE FROM shares WHERE token = ? AND owner = ?", mine)
        if row is not None:
            shutil.rmtree(self.jobs.job_dir(row[0]) / SHARED_FOLDER, ignore_errors=True)
        return cur.rowcount == 1

    def resolve(self, token: object) -> SharedResult | None:
        """What ``token`` shows, or None for every way it can fail (the caller answers all alike)."""
        if not is_token(token):
            return None
        row = self._connect().execute("SELECT job_id, owner FROM shares WHERE token = ?", (token,)).fetchone()
        if row is None:
            return None
        job = self.jobs.get_for_owner(*row)
        if _unshareable(job, self.jobs.jobs_root):
            return None
        assert job is not None
        try:
            original, edited = self._clean_clips(job)
        except MediaError:  # a clip that cannot be read is a link that shows nothing
            return None
        return SharedResult(job.request.get("prompt", ""), original, edited, job.engine)

    def _clean_clips(self, job: Job) -> tuple[Path, Path]:
        """The original and the edited clip without their metadata, made on first need in the job's
        ``shared/`` folder (and again when the result changed: another take was chosen)."""
        assert job.output_video is not None
        made = []
        for name, source in (("original", job.edit_request().video), ("edited", Path(job.output_video))):
            folder = self.jobs.job_dir(job.id) / SHARED_FOLDER / name
            clean = folder / source.name
            if not clean.is_file():
                shutil.rmtree(folder, ignore_errors=True)
                scrubbed(source, folder)
            made.append(clean)
        return made[0], made[1]

    def _owned(self, job_id: object, owner: str) -> Job | None:
        if not isinstance(job_id, str) or not 0 < len(job_id) <= _MAX_JOB_ID_CHARS:
            return None
        return self.jobs.get_for_owner(job_id, owner)

    def _token_for(self, job_id: str, owner: str) -> str | None:
        row = self._connect().execute("SELECT token FROM shares WHERE job_id = ? AND owner = ?",
                                      (job_id, owner)).fetchone()
        return row[0] if row else None



def _unshareable(job: Job | None, jobs_root: Path) -> str | None:
    """Why ``job`` cannot be shown through a link (None when it can). Both files must exist and lie
    in the data folder's job folders: a link serves those two files and nothing else."""
    if job is None:
        return "That result is not in your history, so it cannot be shared."
    if job.status != "succeeded":
        return f"Only a finished edit can be shared; this one is {job.status.replace('_', ' ')}."
    if job.expired or job.output_video is None or not _served_file(Path(job.output_video), jobs_root):
        return "This result's files were removed by retention, so there is nothing left to share."
    if job.is_stub or not _served_file(job.edit_request().video, jobs_root):
        return ("This result has no original clip to compare it with (it was resumed by request id), "
                "so it cannot be shared.")
    return None


def _served_file(path: Path, jobs_root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(jobs_root.resolve()) and path.is_file()
    except (OSError, ValueError):
        return False
