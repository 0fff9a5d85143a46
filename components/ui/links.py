"""Absolute URLs of the studio's own routes, as the browser that asked reaches them.

gradio makes its own file URLs absolute with ``route_utils.get_root_url`` (which reads
X-Forwarded-Host/-Proto behind a Space's proxy and adds the app's root path); the studio's routes
(share pages, an owner's job files) use the same root, so a link works wherever gradio's do. A
component that takes a file from a URL (a gallery's picture, the API's FileData) needs it
absolute: gradio would otherwise read a relative one as a server path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr
from gradio import route_utils
from gradio.context import LocalContext

from components.config import Settings
from components.share.files import file_links


def root_url(request: gr.Request | None = None) -> str:
    """The app's public root ("https://host/prefix", no trailing slash) for ``request``, or for the
    request the running event came with; "" outside any request (links then stay root-relative)."""
    request = request or LocalContext.request.get(None)
    http = getattr(request, "request", None)
    if http is None:
        return ""
    # The whole path of the request, as gradio's own unqueued route passes it: the origin is what
    # is left once it is cut off, and the app's root path is added back (queue/join or run/predict).
    return route_utils.get_root_url(http, http.url.path, getattr(http.app, "root_path", None))


def job_file_url(settings: Settings, owner: str) -> Callable[[Path | str | None], str | None]:
    """``path`` -> the absolute link through which ``owner`` opens that file of one of their jobs
    (components/share/files.py), or None when it is not a job file."""
    links, root = file_links(settings), root_url()

    def url(path: Path | str | None) -> str | None:
        link = links.url(owner, path)
        return f"{root}/{link}" if link else None

    return url
