"""A fal key that cannot leak by accident.

Keys travel through dataclasses, logs, tracebacks and gradio state; wrapping them means a stray
``repr``, f-string or ``logging`` call prints ``***`` instead of the key. Only ``reveal()`` gives
the raw value, and only the fal engine calls it, to build its client.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from components.errors import InputError

# fal keys are "<key id>:<key secret>", both URL-safe tokens. Anything else (a pasted sentence, a key
# with a line break, "Key abc:def") is refused before it reaches fal_client, whose error lines
# would otherwise print it.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9_.-]{4,128}:[A-Za-z0-9_.-]{8,256}")
KEY_SHAPE_HINT = "A fal key looks like 1a2b3c4d-...:9f8e7d6c... (key id, a colon, then the secret)."


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        """A short one-way id for in-memory registries (never written: it is unsalted)."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:16]

    def keyed_fingerprint(self, salt: str) -> str:
        """A one-way id safe to write to disk: keyed with the data folder's secret, so a stolen cache
        file cannot be matched against a guessed or leaked key."""
        return hmac.new(salt.encode(), self._value.encode(), hashlib.sha256).hexdigest()[:32]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict) -> Secret:
        # gradio deep-copies session state; a copy in memory is fine, a pickle on disk is not.
        return self

    def __reduce__(self):
        raise TypeError("a Secret is never pickled or written to disk")


def parse_user_key(text: str | None) -> Secret | None:
    """A key a user typed, or None for an empty field; a malformed one is an ``InputError``.

    Surrounding white space (a copy-paste habit) is forgiven; anything inside the key is not.
    The message never repeats the key.
    """
    raw = (text or "").strip()
    if not raw:
        return None
    if raw.lower().startswith("key "):
        raw = raw[4:].strip()
    if not _KEY_SHAPE.fullmatch(raw):
        problem = ("contains spaces, line breaks or other control characters"
                   if any(c.isspace() or not c.isprintable() for c in raw) else
                   "is not shaped like a fal key")
        raise InputError(f"That fal key {problem}, so it was not used.",
                         fix=f"Copy the key again from fal.ai/dashboard/keys. {KEY_SHAPE_HINT}",
                         field="fal_key")
    return Secret(raw)
