"""The key gradio's BrowserState encrypts each browser's owner id with, kept beside the job store.

BrowserState uses a key that is random for every launch unless one is given. With a random one, a
browser coming back after an app restart could no longer read its owner id, got a new one, and its
history (with any job that finished meanwhile) looked lost. The key is made once per data folder,
so it lives exactly as long as the jobs it unlocks. It is not a credential: gradio sends it to
every page, and what keeps owners apart is that each owner id is random and stays in its browser.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "owner.secret"
# The other secret of the data folder: never sent anywhere. It keys what must not be computable by
# a visitor: the owner id of a signed-in Hugging Face account, the key ids in the upload cache.
SERVER_FILE_NAME = "server.secret"


def owner_secret(data_dir: Path) -> str:
    """The BrowserState key (public: gradio sends it to pages), created on first use."""
    return _secret(Path(data_dir) / FILE_NAME)


def server_secret(data_dir: Path) -> str:
    """The data folder's private secret, created on first use (readable by this user only)."""
    return _secret(Path(data_dir) / SERVER_FILE_NAME)


def _secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by an earlier launch (or a worker that won the race)
        value = path.read_text().strip()
        if value:
            return value
        path.unlink(missing_ok=True)  # an empty file is a crash mid-write: make it again
        return _secret(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
