"""A parent job's state, derived from its children: the one place that reads a family.

A parent (the segments of a long clip, or takes of one edit) never runs an engine itself; it owns
ordinary child edits and shows what they add up to. Keeping that derivation pure makes it the same
after a restart as before it: the store's child rows are the truth, the parent row a summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from components.jobs.models import IN_FLIGHT_STATUSES, Job, JobKind

PART_NOUN: dict[str, str] = {"segments": "segment", "takes": "take"}


def latest_parts(children: Iterable[Job]) -> dict[int, Job]:
    """Each part's newest attempt: a retried segment replaces its failed try."""
    parts: dict[int, Job] = {}
    for child in sorted(children, key=lambda j: j.created_at):
        if child.part is not None:
            parts[child.part] = child
    return parts


def part_count(parent: Job) -> int:
    """How many parts the parent was planned with (stored with it at submit)."""
    return int(parent.request.get("extra", {}).get("parts") or 0)


@dataclass(frozen=True)
class FamilyState:
    status: str  # "running" while any part is in flight, else what the parts add up to
    message: str
    fraction: float | None
    waiting_for_key: bool = False  # a part is parked until its owner enters a key again


def progress(kind: JobKind, parts: dict[int, Job], total: int) -> FamilyState:
    """The parent's line while its parts run: "2 of 4 segments done, 2 running"."""
    noun = PART_NOUN.get(kind, "part")
    done = sum(p.status == "succeeded" for p in parts.values())
    running = sum(p.status in IN_FLIGHT_STATUSES for p in parts.values())
    failed = sum(p.status in ("failed", "cancelled") for p in parts.values())
    waiting = sum(p.status == "waiting_for_key" for p in parts.values())
    bits = [f"{done} of {total} {noun}s done"]
    if running:
        bits.append(f"{running} running")
    if failed:
        bits.append(f"{failed} failed")
    if waiting:
        bits.append(f"{waiting} waiting for your fal key")
    fractions = [1.0 if p.status == "succeeded" else (p.fraction or 0.0) for p in parts.values()]
    fraction = sum(fractions) / total if total else None
    status = "running" if running else ("waiting_for_key" if waiting else "settled")
    return FamilyState(status, ", ".join(bits), fraction, waiting_for_key=bool(waiting) and not running)


def failures(kind: JobKind, parts: dict[int, Job], total: int) -> list[str]:
    """One sentence per part that did not succeed, numbered as the user sees them (from 1)."""
    noun = PART_NOUN.get(kind, "part").capitalize()
    out = []
    for index in range(total):
        part = parts.get(index)
        if part is None:
            out.append(f"{noun} {index + 1} of {total} was never started.")
        elif part.status != "succeeded":
            why = part.error or part.message or part.status
            out.append(f"{noun} {index + 1} of {total} {part.status}: {why}")
    return out


def retryable(parts: dict[int, Job], total: int) -> list[int]:
    """Parts that a retry runs again: those that failed, were cancelled or never started."""
    return [i for i in range(total) if i not in parts or parts[i].status in ("failed", "cancelled")]
