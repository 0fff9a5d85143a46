"""Durable jobs: every edit is recorded before it starts and run by the server, not the browser."""

from components.jobs.models import (
    FINAL_STATUSES,
    IN_FLIGHT_STATUSES,
    UNFINISHED_STATUSES,
    Job,
    JobStatus,
    KeySource,
)
from components.jobs.retention import apply_retention
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore

__all__ = ["FINAL_STATUSES", "IN_FLIGHT_STATUSES", "UNFINISHED_STATUSES", "Job", "JobRunner", "JobStatus",
           "JobStore", "KeySource", "apply_retention"]
