"""Durable jobs: every edit is recorded before it starts and run by the server, not the browser."""

from components.jobs.runner import JobRunner
from components.jobs.store import JobStore

__all__ = ["JobRunner", "JobStore"]
