"""Per-session state: who the browser is, and the fal key it brought.

The owner id is a random opaque id kept in the browser's local storage (gr.BrowserState), so a
refresh, a return visit or an app restart finds the same history and running jobs (its storage
key is the data folder's, see jobs/owner_secret.py). The user's key lives only in
server memory for this tab (gr.State holding a ``Secret``): never in local storage, never in HTML.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.secret import Secret

OWNER_STORAGE_KEY = "kling-edit-studio-owner"


@dataclass(frozen=True)
class SessionHandles:
    owner: gr.BrowserState  # str: opaque per-browser id
    user_key: gr.State  # Secret | None


def build(owner_secret: str) -> SessionHandles:
    return SessionHandles(owner=gr.BrowserState("", storage_key=OWNER_STORAGE_KEY, secret=owner_secret),
                          user_key=gr.State(None))


def ensure_owner(owner: str | None) -> str:
    """The stored id, or a fresh one for a first visit."""
    return owner if owner else uuid.uuid4().hex


def api_owner(request: gr.Request | None) -> str:
    """API callers have no local storage: their gradio session is their identity."""
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex
    return f"api-{session}"


def key_from_text(text: str | None) -> Secret | None:
    key = Secret(text or "")
    return key if key else None


def scratch_dir() -> Path:
    """A fresh folder for files a session makes before a job exists (fetched or fixed clips).

    It sits in the system temp dir, which gradio serves back to the browser; the job runner copies
    inputs into the job's own folder on submit, so these can be cleaned by the OS at any time.
    """
    root = Path(tempfile.gettempdir()) / "kling-studio"
    path = root / uuid.uuid4().hex
    path.mkdir(parents=True, exist_ok=True)
    return path
