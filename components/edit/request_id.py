"""The shape of a fal request id, checked before anything waits on one.

fal's queue answers with UUIDs (``764cabcf-b745-4b3e-ae38-1200304cf45b``). A pasted id that is not
one cannot name a fal job: reattaching to it would only poll a 404 or, worse, show "Running" for
minutes. So the id is checked at once and refused with a sentence; a well-formed id is returned
in fal's own spelling (lower case, no spaces or braces).
"""

from __future__ import annotations

import re
import uuid

from components.errors import InputError

_HEX = "[0-9a-fA-F]"
_UUID_ISH = re.compile(rf"^\{{?{_HEX}{{8}}-?{_HEX}{{4}}-?{_HEX}{{4}}-?{_HEX}{{4}}-?{_HEX}{{12}}\}}?$")
EXAMPLE = "764cabcf-b745-4b3e-ae38-1200304cf45b"


def check_request_id(text: str | None) -> str:
    """The request id in canonical form, or ``InputError`` saying what a fal request id looks like."""
    raw = (text or "").strip()
    if not raw:
        raise InputError("The fal request id is empty.",
                         fix=f"Paste the id shown with the job or on the fal dashboard, e.g. {EXAMPLE}.",
                         field="request_id")
    if not _UUID_ISH.match(raw):
        shown = raw if len(raw) <= 40 else raw[:39] + "…"
        raise InputError(f"“{shown}” is not a fal request id: fal ids are UUIDs, 36 characters of hex "
                         "digits and dashes.", fix=f"Paste the id exactly as shown, e.g. {EXAMPLE}.",
                         field="request_id")
    return str(uuid.UUID(raw))
