"""fal_client and httpx exceptions -> the studio's errors, each one sentence a user can act on.

fal answers a rejected input with a 422 whose ``detail`` is a list of ``{loc, msg, type}``; we name
the field and add the model's limit for it from ``Settings``, so "video_url: duration 2.0 s" comes
with "Kling O1 accepts 3-10.05 s". Everything else is sorted by what the user can do: fix the key
(401/403), wait (429), try again (5xx, timeouts, dropped connections: ``temporary=True``).
Messages quote fal's text only after removing the key, in case a server ever echoes it.
"""

from __future__ import annotations

from typing import Any

import httpx
from fal_client.client import FalClientHTTPError, FalClientTimeoutError

from components.config import MODEL_NAME, Settings
from components.errors import AuthError, EngineError, RateLimitError, StudioError
from components.secret import Secret
from components.units import human_size

KEYS_PAGE = "fal.ai/dashboard/keys"
STATUS_PAGE = "status.fal.ai"
_MAX_QUOTED = 200  # characters of a server's text worth showing


def to_studio_error(exc: BaseException, settings: Settings, key: Secret, *, during: str,
                    request_id: str | None = None) -> StudioError:
    """The user-facing error for a failure ``during`` a step ("uploading the inputs", ...)."""
    if isinstance(exc, StudioError):
        return exc
    if isinstance(exc, FalClientHTTPError):
        return _from_status(exc.status_code, exc.message, settings, key, during, request_id)
    if isinstance(exc, httpx.HTTPStatusError):  # the CDN token call raises plain httpx errors
        return _from_status(exc.response.status_code, _body_detail(exc.response), settings, key, during,
                            request_id)
    if isinstance(exc, (httpx.TimeoutException, FalClientTimeoutError, TimeoutError)):
        return EngineError(f"fal did not answer in time while {during}.",
                           fix=_again(request_id), temporary=True, request_id=request_id)
    if isinstance(exc, httpx.TransportError):
        return EngineError(f"The connection to fal broke while {during} ({type(exc).__name__}).",
                           fix=_again(request_id), temporary=True, request_id=request_id)
    return EngineError(f"fal failed unexpectedly while {during} ({type(exc).__name__}).",
                       fix=_again(request_id), temporary=True, request_id=request_id)


def _from_status(status: int, detail: Any, settings: Settings, key: Secret, during: str,
                 request_id: str | None) -> StudioError:
    if status in (401, 403):
        return AuthError(f"The fal key was refused (HTTP {status}).",
                         fix=f"Check the key at {KEYS_PAGE} or clear it to use the local preview.",
                         request_id=request_id)
    if status == 429:
        return RateLimitError(f"fal is limiting this key's requests (HTTP 429) while {during}, even "
                              "after retrying.",
                              fix="Wait a minute and try again, or run fewer edits at once; a higher fal "
                                  "plan raises the limit.", temporary=True, request_id=request_id)
    if status == 404 and request_id:
        return EngineError(f"fal does not know request {request_id} (HTTP 404).",
                           fix="Check the request id, and that the job was started with this same fal key.",
                           request_id=request_id)
    if status == 422 and isinstance(detail, list):
        return validation_error(detail, settings, key, request_id)
    quoted = _quote(detail, key)
    said = f": {quoted}" if quoted else ""
    if status >= 500:
        return EngineError(f"fal had a server error (HTTP {status}) while {during}{said}.",
                           fix=f"Try again in a minute; if it keeps failing, see {STATUS_PAGE}. "
                               + _resume_hint(request_id),
                           temporary=True, request_id=request_id)
    return EngineError(f"fal refused the request (HTTP {status}) while {during}{said}.",
                       fix="Check the inputs and try again.", request_id=request_id)


def validation_error(detail: list[Any], settings: Settings, key: Secret,
                     request_id: str | None = None) -> EngineError:
    """A 422 detail list as one sentence per field, each with the model's limit for that field."""
    parts: list[str] = []
    first_field: str | None = None
    for item in detail:
        loc = item.get("loc", []) if isinstance(item, dict) else []
        msg = _quote(item.get("msg", "") if isinstance(item, dict) else item, key).rstrip(".")
        name = _field_name(loc)
        first_field = first_field or name
        limit = field_limit(name, msg, settings)
        parts.append(f"{name}: {msg}." + (f" {limit}" if limit else ""))
    text = " ".join(parts) if parts else "fal rejected the input."
    return EngineError(text, field=first_field, request_id=request_id)


def field_limit(name: str, msg: str, settings: Settings) -> str:
    """What Kling O1 accepts for ``name``; for the video, the limit the message is about."""
    v = settings.video
    low = msg.lower()
    if name == "video_url":
        if "duration" in low or "second" in low:
            return f"{MODEL_NAME} accepts {v.min_seconds:g}-{v.max_seconds:g} s."
        if "dimension" in low or "pixel" in low or "resolution" in low or "width" in low or "height" in low:
            return f"{MODEL_NAME} accepts a width and height of {v.min_side}-{v.max_side} px each."
        if "fps" in low or "frame rate" in low:
            return f"{MODEL_NAME} accepts {v.min_fps:g}-{v.max_fps:g} fps (Fix it re-times a clip)."
        if "mb" in low or "size" in low or "large" in low:
            return f"{MODEL_NAME} accepts up to {human_size(v.max_bytes)}."
        if "format" in low or "codec" in low:
            return f"{MODEL_NAME} accepts {' or '.join('.' + c for c in v.containers)}."
        return (f"{MODEL_NAME} accepts {'/'.join(v.containers)} clips of "
                f"{v.min_seconds:g}-{v.max_seconds:g} s, "
                f"{v.min_side}-{v.max_side} px.")
    if name == "prompt":
        return f"The prompt is required and may have up to {settings.prompt_max_chars} characters."
    if name.startswith(("image_urls", "elements", "body")):
        return (f"{MODEL_NAME} takes at most {settings.max_references} elements and images together, each "
                f"element with a frontal image and {settings.min_element_references}-"
                f"{settings.max_element_references} reference images.")
    return ""


def _field_name(loc: list[Any]) -> str:
    """["body", "elements", 0, "frontal_image_url"] -> "elements[0].frontal_image_url"."""
    parts = [p for p in loc if p != "body"] or ["body"]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _body_detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text
    return body.get("detail", body) if isinstance(body, dict) else body


def _quote(detail: Any, key: Secret) -> str:
    """fal's own words, short, single-line, and never containing the key."""
    text = detail if isinstance(detail, str) else ("" if detail is None else str(detail))
    secret = key.reveal()
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1] + "…"


def _resume_hint(request_id: str | None) -> str:
    return f"The fal request id is {request_id}." if request_id else ""


def _again(request_id: str | None) -> str:
    if request_id:
        return f"Try again, or resume the job later with request id {request_id}."
    return "Check the connection and try again."
