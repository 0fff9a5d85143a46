"""The read-only page a share link opens, and the two clips it plays: plain Starlette routes that
app.py hands to gradio's FastAPI app (``app_kwargs["routes"]``, matched before gradio's own).

The page is the studio's comparison player outside gradio: the same markup, CSS and JS, given
its value by a few lines of bootstrap instead of gr.HTML's js_on_load, so there is one player to
keep in sync, not two. Everything it references is relative to the link itself
(``<token>/original.mp4``), so it works under any root path or proxy without knowing the host.

What a visitor can reach is exactly three URLs per live token: the page (prompt + player) and
the two clips. A malformed, unknown or revoked token, or one whose result retention removed, gets
the same 404 page. Headers keep the token out of referrers, caches and search engines, and the
page runs only its own nonce'd script.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from components.share.store import SharedResult, ShareStore

CLIPS = ("original", "edited")
# Who made the edit, said on the page: a preview must not pass for Kling O1's work.
_MADE_BY = {"fal": "Edited by Kling O1 (through fal).",
            "local": "Edited by the studio's local preview, not by Kling O1: it applies looks and "
                     "colours on the studio's machine and keeps everything else as it was."}
GONE = "This link was revoked or never existed."
_BASE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is the URL: never send it on to another site
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_CLIP_CSP = "default-src 'none'; frame-ancestors 'none'"


@dataclass(frozen=True)
class Player:
    """The studio's comparison player, handed in by the UI layer (this module never imports gradio)."""

    template: str  # the player's markup
    css: str  # its stylesheet, written to be nested under the player's root element
    js: str  # its script: a function body of (element, props, watch)
    value: Callable[..., dict[str, Any]]  # the player's value: (original, edited, url=path -> its URL)


def routes(shares: ShareStore, player: Player) -> list[Route]:
    """``GET /share/{token}`` (the page) and ``GET /share/{token}/{original,edited}.mp4``.

    Sync endpoints: Starlette runs them in its thread pool, where the SQLite lookups belong."""

    def page(request: Request) -> Response:
        shared = shares.resolve(request.path_params["token"])
        if shared is None:
            return _gone()
        return _page(shared, request.path_params["token"], player)

    def clip(request: Request) -> Response:
        name = request.path_params["name"]
        shared = shares.resolve(request.path_params["token"])
        if shared is None or name not in CLIPS:
            return _gone()
        path = shared.original if name == "original" else shared.edited
        # FileResponse answers Range requests (seeking) and names no server path.
        return FileResponse(path, media_type="video/mp4",
                            headers={**_BASE_HEADERS, "Content-Security-Policy": _CLIP_CSP})

    return [Route("/share/{token}", page, methods=["GET"]),
            Route("/share/{token}/{name}.mp4", clip, methods=["GET"])]


def _page(shared: SharedResult, token: str, player: Player) -> HTMLResponse:
    # The clips' URLs are this link's own, relative to it, under the names the link serves them by.
    value = player.value(shared.original, shared.edited, url=lambda _: None)
    value.update({name: {"url": f"{token}/{name}.mp4", "orig_name": f"{name}.mp4"} for name in CLIPS})
    value["side_by_side"] = None
    made_by = _MADE_BY.get(shared.engine, _MADE_BY["fal"])
    nonce = secrets.token_urlsafe(16)
    # JSON inside <script>: "<", ">" and "&" as escapes, so no value can close the element.
    data = json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<link rel="icon" href="data:,">
<title>A shared edit · Kling O1 Edit Studio</title>
<style nonce="{nonce}">{_PAGE_CSS}
#share-player {{
{player.css}
}}</style>
</head>
<body>
<main>
<h1>A shared edit</h1>
<p class="share-made-by" data-engine="{html.escape(shared.engine)}">{html.escape(made_by)}</p>
<p class="share-caption">The instruction</p>
<blockquote class="share-prompt">{html.escape(shared.prompt)}</blockquote>
<div id="share-player">{player.template}</div>
<p class="share-note">A read-only link made with Kling O1 Edit Studio: the original and the edit
play in step.</p>
</main>
<script type="application/json" id="share-value">{data}</script>
<script nonce="{nonce}">
(function (element, props, watch) {{
{player.js}
}})(document.getElementById("share-player"),
    {{ value: JSON.parse(document.getElementById("share-value").textContent) }},
    function () {{}});
</script>
</body>
</html>"""
    return HTMLResponse(body, headers=_headers(nonce))


def _gone() -> HTMLResponse:
    """The one answer for every token that shows nothing, whatever the reason: byte for byte the
    same page (its style is allowed by hash, not by a per-answer nonce)."""
    return HTMLResponse(_GONE_PAGE, status_code=404, headers=_GONE_HEADERS)


def _headers(nonce: str) -> dict[str, str]:
    csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
           "media-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return {**_BASE_HEADERS, "Content-Security-Policy": csp}


# The page's own look, and the gradio theme variables the player's CSS reads (light and dark).
_PAGE_CSS = """
:root {
  color-scheme: light dark;
  --body-text-color: #1f2937; --body-text-color-subdued: #6b7280; --border-color-primary: #e5e7eb;
  --button-secondary-background-fill: #f3f4f6; --button-secondary-background-fill-hover: #e5e7eb;
  --button-secondary-text-color: #374151; --color-accent: #f97316;
  --error-background-fill: #fef2f2; --error-border-color: #fecaca; --error-text-color: #b91c1c;
  --radius-lg: 8px; --radius-sm: 4px; --text-sm: 14px; --page-background: #fff;
}
@media (prefers-color-scheme: dark) {
  :root {
    --body-text-color: #f4f4f5; --body-text-color-subdued: #a1a1aa; --border-color-primary: #3f3f46;
    --button-secondary-background-fill: #3f3f46; --button-secondary-background-fill-hover: #52525b;
    --button-secondary-text-color: #fff; --error-background-fill: #450a0a; --error-border-color: #7f1d1d;
    --error-text-color: #fca5a5; --page-background: #0b0f19;
  }
}
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--body-text-color);
       background: var(--page-background); }
main { max-width: 1280px; margin: 0 auto; padding: 24px 16px; }
h1 { margin: 0 0 12px; font-size: 24px; }
.share-made-by { margin: 0 0 12px; font-weight: 600; }
.share-caption { margin: 0; font-size: var(--text-sm); color: var(--body-text-color-subdued); }
.share-prompt { margin: 4px 0 20px; padding: 8px 12px; border-left: 3px solid var(--color-accent);
                white-space: pre-wrap; overflow-wrap: anywhere; }
.share-note { margin-top: 20px; font-size: var(--text-sm); color: var(--body-text-color-subdued); }
"""

_GONE_PAGE = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="robots" content="noindex, nofollow">
<title>Link not found · Kling O1 Edit Studio</title><style>{_PAGE_CSS}</style></head>
<body><main><h1>Link not found</h1><p>{GONE} Ask whoever sent it for a new one.</p></main></body>
</html>"""
_GONE_STYLE_HASH = base64.b64encode(hashlib.sha256(_PAGE_CSS.encode()).digest()).decode()
_GONE_HEADERS = {**_BASE_HEADERS,
                 "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{_GONE_STYLE_HASH}'; "
                                            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}
