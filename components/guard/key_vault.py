"""Users' fal keys, held in this process's memory per page session and nowhere else.

A key must not sit in ``gr.State`` or in a component's value: gradio serialises session state and
component values (its deep-link route writes them to a file it serves), so anything there can end
up on disk or in someone's browser. The page hands its key to the vault once; every later event of
the same tab finds it by the tab's gradio session id, and the session's end drops it.
"""

from __future__ import annotations

import threading

from components.secret import Secret


class KeyVault:
    def __init__(self) -> None:
        self._keys: dict[str, Secret] = {}
        self._lock = threading.Lock()

    def put(self, session: str | None, key: Secret | None) -> None:
        """Remember ``key`` for ``session``; ``None`` forgets it."""
        if not session:
            return
        with self._lock:
            if key:
                self._keys[session] = key
            else:
                self._keys.pop(session, None)

    def get(self, session: str | None) -> Secret | None:
        if not session:
            return None
        with self._lock:
            return self._keys.get(session)

    def drop(self, session: str | None) -> None:
        self.put(session, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)
