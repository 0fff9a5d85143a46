"""An owner's own job files, served by a route that checks on every request that the link was made
for the job's owner (a share link's two clips are ``page.py``'s, checked against its token).

gradio serves files by path (``/gradio_api/file=<path>``) from its ``allowed_paths``, and no job
folder may be among them: with the data folder outside the working folder and the temp folder (a
Space's ``/data``), the folder was allowed and anyone who named a job's path got its clips. So a
page reaches its job files only through links of this route:

    /studio/files/<job id>/<until: unix time>/<signature>/<path inside the job's folder>

``sig`` is an HMAC, keyed with the data folder's private ``server.secret``, of the job id, the
path, the owner and ``until``. Each request computes it again with the owner the job store holds
for the job now, so a link opens only a file of a job that still exists, only the file it names
(resolved inside that job's folder: nothing in the URL reaches another file), only for as long as
it says, and never a file of another owner's job. Links are stable within an hour (``until`` is
rounded up to the hour), so a page that is sent its view again keeps playing the same URLs. The
file's own name ends the URL, so whatever saves it (a browser's download, gradio_client) names it so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import mimetypes
import re
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from components.config import Settings
from components.guard.owner_secret import server_secret
from components.jobs.store import JobStore

ROUTE = "studio/files"
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_HOUR = 3600
_HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",  # the link is the credential: never send it on to another site
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
NOT_FOUND = "No such file, or this link has expired. Reload the studio for fresh links."


class FileLinks:
    def __init__(self, jobs_root: Path, secret: str, ttl_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.jobs_root = Path(jobs_root).resolve()
        self._key = secret.encode()
        self.ttl_s = ttl_s
        self._clock = clock

    def url(self, owner: str, path: Path | str | None) -> str | None:
        """The link (relative to the app's root: ``studio/files/...``) through which ``owner`` opens
        ``path``, a file in a job folder; None for no path or one outside every job folder."""
        if not path:
            return None
        try:
            relative = Path(path).resolve().relative_to(self.jobs_root)
        except ValueError:
            return None
        job_id, *inside = relative.parts
        if not inside:
            return None
        rest = "/".join(inside)
        until = (int(self._clock()) // _HOUR + 1) * _HOUR + int(self.ttl_s)
        return f"{ROUTE}/{job_id}/{until}/{self._sign(job_id, rest, owner, until)}/{quote(rest)}"

    def find(self, job_id: str, rest: str, until: str, sig: str, owner: str | None) -> Path | None:
        """The file a link names if it is sound (the signature made for ``owner``, the job's owner
        now; not expired; a file inside the job's folder), else None."""
        if owner is None or not _JOB_ID.fullmatch(job_id) or not until.isdigit():
            return None
        if int(until) < self._clock():
            return None
        if not hmac.compare_digest(sig.encode(), self._sign(job_id, rest, owner, int(until)).encode()):
            return None
        folder = (self.jobs_root / job_id).resolve()
        try:
            path = (folder / rest).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return path if path.is_relative_to(folder) and path.is_file() else None

    def resolve(self, url_path: str, owner_of: Callable[[str], str | None]) -> Path | None:
        """The file a link's path (``/studio/files/...``, wherever it sits in a longer path) names,
        checked as the route checks it; None for any other path."""
        at = url_path.find(f"/{ROUTE}/")
        parts = unquote(url_path[at + len(ROUTE) + 2:]).split("/", 3) if at >= 0 else []
        if len(parts) != 4:
            return None
        job_id, until, sig, rest = parts
        return self.find(job_id, rest, until, sig, owner_of(job_id) if _JOB_ID.fullmatch(job_id) else None)

    def routes(self, store: JobStore) -> list[Route]:
        """``GET /studio/files/{job_id}/{until}/{sig}/{path}``: a sync endpoint (Starlette runs it in
        its thread pool, where the job store's lookup belongs); every failure answers the same 404."""

        def serve(request: Request) -> Response:
            params = request.path_params
            job_id = params["job_id"]
            job = store.get(job_id) if _JOB_ID.fullmatch(job_id) else None
            owner = job.owner if job else None
            path = self.find(job_id, params["rest"], params["until"], params["sig"], owner)
            if path is None:
                return PlainTextResponse(NOT_FOUND, status_code=404, headers=_HEADERS)
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            # FileResponse answers Range requests, so the player seeks without the whole clip.
            return FileResponse(path, media_type=media_type, headers=_HEADERS, filename=path.name,
                                content_disposition_type="inline")

        return [Route(f"/{ROUTE}/{{job_id}}/{{until}}/{{sig}}/{{rest:path}}", serve, methods=["GET", "HEAD"])]

    def _sign(self, job_id: str, rest: str, owner: str, until: int) -> str:
        digest = hmac.new(self._key, f"files\n{job_id}\n{rest}\n{owner}\n{until}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:24]).decode()


@cache
def _links(data_dir: Path, ttl_s: float) -> FileLinks:
    return FileLinks(data_dir / "jobs", server_secret(data_dir), ttl_s)


def file_links(settings: Settings) -> FileLinks:
    """The one signer of a data folder's links (its secret is read once per process)."""
    return _links(settings.data_dir.resolve(), settings.file_link_hours * _HOUR)
