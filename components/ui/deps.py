"""What every panel needs from the server, built once by app.py and handed down.

One object instead of five parameters per panel; nothing here is per session.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import Settings
from components.jobs.runner import JobRunner
from components.key_vault import KeyVault
from components.scratch import Scratch
from components.service import EditService
from components.share import ShareStore
from components.spend import ServerKeyGuard
from components.trusted_files import TrustedFiles
from components.write_allowance import WriteAllowance


@dataclass(frozen=True)
class Deps:
    settings: Settings
    runner: JobRunner
    service: EditService
    guard: ServerKeyGuard
    keys: KeyVault  # users' fal keys, per gradio session, in memory only
    files: TrustedFiles  # the only folders a client-named path may point into
    scratch: Scratch  # files the server makes for a session before a job exists
    shares: ShareStore  # share links: read-only pages of finished results
    writes: WriteAllowance  # what each client address may make the server write (fetches, fixes)
