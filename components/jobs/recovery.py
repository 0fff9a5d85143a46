"""What happens to a job a previous process left unfinished: the policy, apart from the doing.

A fal job with a request id is paid for and may be done already, so it is never failed: with the
server's key it resumes; with a user's key (never stored) it waits until the user enters it again.
Anything that never reached fal is failed, with the reassurance that nothing was charged; except a
part of a parent job (a segment or a take), which runs again, since its parent still needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.jobs.models import Job

INTERRUPTED_BEFORE_SUBMIT = ("Interrupted by a restart before it was submitted; nothing was charged — "
                             "run it again.")
INTERRUPTED_LOCAL = ("Interrupted by a restart while the local preview was running; nothing was charged — "
                     "run it again.")


@dataclass(frozen=True)
class Resume:
    """Reattach to the job's fal request with the server's key."""


@dataclass(frozen=True)
class Restart:
    """Run a part of a parent again from its inputs: it never reached fal, or ran locally."""


@dataclass(frozen=True)
class WaitForKey:
    """Park the job until its owner enters a key; ``message`` tells them why."""

    message: str


@dataclass(frozen=True)
class Fail:
    """End the job: it never cost anything and cannot be picked up."""

    error: str


Decision = Resume | Restart | WaitForKey | Fail


def decide(job: Job, server_key_engine: bool) -> Decision:
    """The decision for one queued or running ``job`` from an earlier process; ``server_key_engine``
    says whether this process has a fal engine on the server's key to resume with."""
    if job.engine == "fal" and job.request_id:
        if job.key_source == "server" and server_key_engine:
            return Resume()
        who = ("this server's fal key is no longer set" if job.key_source == "server"
               else "your fal key is never stored, so the restart forgot it")
        return WaitForKey(f"The app restarted while fal ran request {job.request_id}, and {who}. "
                          "Enter your fal key to pick up the result; fal keeps it for a while.")
    if job.parent_id is not None:
        # A part of a long clip or a take: its parent still wants it, and this try cost nothing.
        if job.engine == "local" or (job.key_source == "server" and server_key_engine):
            return Restart()
        if job.engine == "fal":
            return WaitForKey("The app restarted before this part reached fal, and your fal key is "
                              "never stored. Enter it to run the parts that are left; nothing was "
                              "charged for them.")
    return Fail(INTERRUPTED_LOCAL if job.engine == "local" else INTERRUPTED_BEFORE_SUBMIT)
