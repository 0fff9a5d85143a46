"""Share links in the studio: "Share link" under the result, "Your share links" in the history.

Thin: the ShareStore decides what may be shared and by whom; this module shows its answers.
Every handler is public API (any client can call any event with any data), so the owner always
comes from the session (the Visitor), the shown job id from server-held state, and a token
from the page is only ever matched against the caller's own links.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.errors import InputError
from components.share import Player
from components.ui import comparison
from components.ui.deps import Deps
from components.ui.errors import notify, shows_errors
from components.ui.history import HistoryHandles
from components.ui.links import root_url
from components.ui.results import ResultHandles
from components.ui.session import Visitor
from components.ui.shown import QUIET


@dataclass(frozen=True)
class ShareHandles:
    create: gr.Button
    link: gr.Textbox
    revoke: gr.Button
    links: gr.Dropdown  # the owner's active links: (prompt · date, token)
    revoke_picked: gr.Button


def player() -> Player:
    """The studio's comparison player for the share page (components/share never imports gradio)."""
    here = Path(comparison.__file__).parent
    return Player(comparison.TEMPLATE, (here / "comparison.css").read_text(),
                  (here / "comparison.js").read_text(), comparison.player_value)


def link_url(request: gr.Request, token: str) -> str:
    """The link as a visitor opens it, under the root gradio's own file URLs use."""
    return f"{root_url(request)}/share/{token}"


def build(deps: Deps, demo: gr.Blocks, owner_state: gr.BrowserState, visitor: Visitor,
          result: ResultHandles, hist: HistoryHandles) -> ShareHandles:
    """Adds the link row under the result (into the result's column) and the list to the history
    area (where this is called), and wires both."""
    service = deps.service
    # Into the column the result sits in, so the link row goes right under the result.
    with result.player.parent, gr.Row(equal_height=True, elem_id="share-row"):
        create = gr.Button("Share link", interactive=False, elem_id="share-create", scale=1,
                           min_width=140)
        link = gr.Textbox(label="Share link: a read-only page with this comparison and its instruction",
                          interactive=False, buttons=["copy"], elem_id="share-link", scale=4,
                          placeholder="Share a finished result to get its link")
        revoke = gr.Button("Revoke", variant="stop", visible=False, elem_id="share-revoke", scale=1,
                           min_width=90)
    with gr.Row(equal_height=True):
        links = gr.Dropdown(label="Your share links", choices=[], value=None, scale=3, elem_id="share-links")
        revoke_picked = gr.Button("Revoke link", scale=1, elem_id="share-links-revoke")
    handles = ShareHandles(create, link, revoke, links, revoke_picked)

    def listed(owner: str) -> gr.Dropdown:
        choices = [(_label(s.prompt, s.created_at), s.token) for s in service.share_links(owner)]
        return gr.Dropdown(choices=choices, value=None)

    def present(owner: object, job_id: object, request: gr.Request, profile: gr.OAuthProfile | None):
        """The link row for the result now shown: enabled once it is finished, with its link if it
        already has one."""
        who = visitor.owner(owner, profile)
        job = deps.service.job(who, job_id) if who else None
        token = service.share_token(who, job_id) if job else None
        finished = job is not None and job.status == "succeeded" and not job.expired
        return {create: gr.Button(interactive=finished), link: link_url(request, token) if token else "",
                revoke: gr.Button(visible=bool(token))}

    @shows_errors
    def share(owner: object, job_id: object, request: gr.Request, profile: gr.OAuthProfile | None):
        who = visitor.caller(owner, request, profile).owner
        token = service.share(who, job_id)
        return {link: link_url(request, token), revoke: gr.Button(visible=True), links: listed(who)}

    @shows_errors
    def revoke_shown(owner: object, job_id: object, request: gr.Request, profile: gr.OAuthProfile | None):
        who = visitor.caller(owner, request, profile).owner
        token = service.share_token(who, job_id)
        if token is None or not service.unshare(who, token):
            raise InputError("This result has no share link to revoke.")
        notify("Anyone opening that link now gets a 'link not found' page.", "Link revoked", "success")
        return {link: "", revoke: gr.Button(visible=False), links: listed(who)}

    @shows_errors
    def revoke_from_list(owner: object, token: object, job_id: object, request: gr.Request,
                         profile: gr.OAuthProfile | None):
        who = visitor.caller(owner, request, profile).owner
        if not service.unshare(who, token):
            raise InputError("Pick one of your share links to revoke.",
                             fix="Choose it in \u201cYour share links\u201d, then press Revoke link.")
        notify("Anyone opening that link now gets a 'link not found' page.", "Link revoked", "success")
        return {**present(owner, job_id, request, profile), links: listed(who)}

    def list_links(owner: object, profile: gr.OAuthProfile | None):
        who = visitor.owner(owner, profile)
        return listed(who) if who else gr.skip()

    row = [create, link, revoke]
    gr.on([result.shown.change, result.details.change], present, [owner_state, result.shown], row,
          **QUIET, trigger_mode="always_last")
    create.click(share, [owner_state, result.shown], [link, revoke, links], show_progress_on=link)
    revoke.click(revoke_shown, [owner_state, result.shown], [link, revoke, links], show_progress_on=link)
    revoke_picked.click(revoke_from_list, [owner_state, links, result.shown], [*row, links],
                        show_progress_on=links)
    gr.on([demo.load, hist.refresh.click], list_links, owner_state, links, **QUIET)
    return handles


def _label(prompt: str, created_at: float) -> str:
    """A link as its owner recognises it: when it was made and what the edit asked for."""
    words = textwrap.shorten(prompt, 60, placeholder="…") or "(no instruction)"
    return f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(created_at))} · {words}"
