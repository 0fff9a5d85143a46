"""What every panel needs from the server, built once by app.py and handed down.

One object instead of five parameters per panel; nothing here is per session.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import Settings
from components.guard.key_vault import KeyVault
from components.guard.scratch import Scratch
from components.guard.trusted_files import TrustedFiles
from components.jobs.owners import AccountOwners
from components.service import EditService


@dataclass(frozen=True)
class Deps:
    settings: Settings
    service: EditService  # every command and query about jobs: the page holds no runner
    keys: KeyVault  # users' fal keys, per gradio session, in memory only
    files: TrustedFiles  # the only folders a client-named path may point into
    scratch: Scratch  # files the server makes for a session before a job exists
    accounts: AccountOwners  # which owner ids are accounts': a page not signed in never acts as one
