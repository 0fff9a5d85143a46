"""A fal key that cannot leak by accident.

Keys travel through dataclasses, logs, tracebacks and gradio state; wrapping them means a stray
``repr``, f-string or ``logging`` call prints ``***`` instead of the key. Only ``reveal()`` gives
the raw value, and only the fal engine calls it, to build its client.
"""

from __future__ import annotations

import hashlib


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        """A short one-way id: lets caches and in-memory registries tell keys apart without holding them."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:16]

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
