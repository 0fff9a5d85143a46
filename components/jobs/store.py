"""Every edit on disk, in one SQLite file, so a restart, a refresh or a closed tab loses nothing.

SQLite in WAL mode lets the runner thread, engine worker threads and gradio handlers write at once:
each thread gets its own connection and waits (busy_timeout) instead of failing when another
writes. Lists and dicts are JSON columns; the schema is one row per job.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import fields
from pathlib import Path
from typing import Any

from components.edit.request import EditRequest
from components.jobs.models import FINAL_STATUSES, MAX_LOG_LINES, UNFINISHED_STATUSES, Job, JobKind, KeySource

_JSON_FIELDS = {"request", "arguments", "timings", "notes", "logs"}
_PATH_FIELDS = {"output_video", "side_by_side"}
_COLUMNS = [f.name for f in fields(Job)]
# Set once at create time; an update may not rewrite who owns a job or which job it is.
_IMMUTABLE = {"id", "owner", "created_at"}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
    {", ".join(c + (" TEXT PRIMARY KEY" if c == "id" else "") for c in _COLUMNS)}
);
CREATE INDEX IF NOT EXISTS jobs_owner_created ON jobs (owner, created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_request_id ON jobs (request_id);
"""
# Made after the columns exist: a data folder from before parent jobs gets them by migration first.
_PARENT_INDEX = "CREATE INDEX IF NOT EXISTS jobs_parent ON jobs (parent_id, part)"


class JobStore:
    """Jobs table in ``db_path``; job folders live beside it in ``jobs/<id>``."""

    def __init__(self, db_path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.db_path = Path(db_path)
        self.jobs_root = self.db_path.parent / "jobs"
        self.jobs_root.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        conn = self.connection()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        _add_missing_columns(conn)
        conn.execute(_PARENT_INDEX)

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_root / job_id

    def create(self, owner: str, request: EditRequest, engine: str, key_source: KeySource | None,
               *, job_id: str | None = None, status: str = "queued", message: str = "Waiting to start",
               request_id: str | None = None, kind: JobKind = "edit", parent_id: str | None = None,
               part: int | None = None) -> Job:
        """Record a job before any engine work, so a crash right after still leaves a trace.

        ``job_id`` lets the runner copy inputs into the job's folder before the row points at them.
        """
        now = time.time()
        job = Job(id=job_id or uuid.uuid4().hex, owner=owner, engine=engine, key_source=key_source,
                  status=status, request=request.to_dict(), created_at=now, updated_at=now,
                  message=message, request_id=request_id, kind=kind, parent_id=parent_id,
                  part=part)
        row = _to_row({f: getattr(job, f) for f in _COLUMNS})
        self.connection().execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                list(row.values()))
        return job

    def get(self, job_id: str) -> Job | None:
        rows = self._select("WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def get_for_owner(self, job_id: str, owner: str) -> Job | None:
        """The job only if ``owner`` made it: another browser's job is as good as absent."""
        rows = self._select("WHERE id = ? AND owner = ?", (job_id, owner))
        return rows[0] if rows else None

    def list_for_owner(self, owner: str, limit: int = 50) -> list[Job]:
        """History, newest first: single edits and parents; children show inside their parent."""
        return self._select("WHERE owner = ? AND parent_id IS NULL ORDER BY created_at DESC LIMIT ?",
                            (owner, limit))

    def children(self, parent_id: str) -> list[Job]:
        """A parent's child edits by part, a retried part's newest attempt last."""
        return self._select("WHERE parent_id = ? ORDER BY part, created_at", (parent_id,))

    def waiting_for_key(self, owner: str) -> list[Job]:
        return self._select("WHERE owner = ? AND status = 'waiting_for_key' ORDER BY created_at", (owner,))

    def find_by_request_id(self, owner: str, request_id: str) -> Job | None:
        rows = self._select("WHERE owner = ? AND request_id = ? ORDER BY created_at DESC LIMIT 1",
                            (owner, request_id))
        return rows[0] if rows else None

    def server_key_spent_since(self, since: float) -> float:
        """The estimated cost (USD, fixed at submit) of the server-key jobs created since ``since``
        that fal charged or may still charge: all but those that ended before reaching fal.

        Summed by SQLite: every Generate on the server key asks, so reading each of the day's jobs
        back into Python made admitting the n-th edit cost n row decodes (12% of the app at 500)."""
        # A long clip's parent holds its estimate only until its segments hold their own costs.
        row = self.connection().execute(
            "SELECT TOTAL(json_extract(request, '$.extra.billed_usd')) FROM jobs "
            "WHERE key_source = 'server' AND created_at >= ? AND NOT "
            "(status IN ('failed', 'cancelled') AND request_id IS NULL) AND NOT "
            "(kind = 'segments' AND EXISTS (SELECT 1 FROM jobs AS part WHERE part.parent_id = jobs.id))",
            (since,)).fetchone()
        return float(row[0])

    def unfinished(self) -> list[Job]:
        """Queued, running or waiting for a key, oldest first: what recovery must decide about."""
        marks = ", ".join("?" * len(UNFINISHED_STATUSES))
        return self._select(f"WHERE status IN ({marks}) ORDER BY created_at", UNFINISHED_STATUSES)

    def finished_with_files(self) -> list[Job]:
        """Finished jobs whose folder retention has not removed yet, oldest finish first; a child
        only once its parent is finished too (the join or the take grid still needs its output)."""
        marks = ", ".join("?" * len(FINAL_STATUSES))
        final = tuple(sorted(FINAL_STATUSES))
        return self._select(f"WHERE status IN ({marks}) AND expired = 0 AND (parent_id IS NULL OR "
                            f"parent_id IN (SELECT id FROM jobs WHERE status IN ({marks}))) "
                            "ORDER BY COALESCE(finished_at, updated_at)", final + final)

    def update(self, job_id: str, **changes: Any) -> Job:
        """Write the given fields (names of ``Job``); ``updated_at`` and, on a final status,
        ``finished_at`` are set here so every writer agrees on them."""
        unknown = set(changes) - set(_COLUMNS) | (set(changes) & _IMMUTABLE)
        if unknown:
            raise ValueError(f"cannot update job field(s) {sorted(unknown)}")
        now = time.time()
        changes.setdefault("updated_at", now)
        if changes.get("status") in FINAL_STATUSES:
            changes.setdefault("finished_at", now)
        if "logs" in changes:
            changes["logs"] = tuple(changes["logs"])[-MAX_LOG_LINES:]
        row = _to_row(changes)
        cur = self.connection().execute(f"UPDATE jobs SET {', '.join(c + ' = ?' for c in row)} WHERE id = ?",
                                      [*row.values(), job_id])
        if cur.rowcount != 1:
            raise KeyError(f"no job {job_id}")
        job = self.get(job_id)
        assert job is not None
        return job

    def delete(self, job_id: str) -> None:
        """Forget a row that never ran: only for a family whose making failed half-way."""
        self.connection().execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def _select(self, where: str, params: tuple) -> list[Job]:
        conn = self.connection()
        cur = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs {where}", params)
        return [_from_row(dict(zip(_COLUMNS, values, strict=True))) for values in cur.fetchall()]

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the studio's one database file, for every table in it (the
        share links' too): sqlite3 connections must not be shared across threads."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # Autocommit (isolation_level=None): each statement is its own short transaction, so a
            # writer holds the lock for one UPDATE, never across a slow engine step.
            conn = sqlite3.connect(self.db_path, timeout=self._busy_timeout_s, isolation_level=None,
                                   check_same_thread=True)
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
        return conn


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """A store written before a field existed gets its column (empty: the field's default)."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    for name in _COLUMNS:
        if name not in present:
            conn.execute(f"ALTER TABLE jobs ADD COLUMN {name}")


def _to_row(values: dict[str, Any]) -> dict[str, Any]:
    row = {}
    for name, value in values.items():
        if name in _JSON_FIELDS:
            value = None if value is None else json.dumps(list(value) if isinstance(value, tuple) else value)
        elif name in _PATH_FIELDS:
            value = None if value is None else str(value)
        elif name == "expired":
            value = int(bool(value))
        row[name] = value
    return row


def _from_row(row: dict[str, Any]) -> Job:
    for name in _JSON_FIELDS:
        if row[name] is not None:
            row[name] = json.loads(row[name])
    for name in _PATH_FIELDS:
        if row[name] is not None:
            row[name] = Path(row[name])
    row["timings"] = row["timings"] or {}
    row["notes"] = tuple(row["notes"] or ())
    row["logs"] = tuple(row["logs"] or ())
    row["expired"] = bool(row["expired"])
    row["kind"] = row["kind"] or "edit"  # a row from before parent jobs
    return Job(**row)
