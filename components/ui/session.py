"""Per-session state: who the browser is, and where its fal key is kept.

The owner id is a random opaque id kept in the browser's local storage (gr.BrowserState), so a
refresh, a return visit or an app restart finds the same history and running jobs (its storage
key is the data folder's, see guard/owner_secret.py). A signed-in Hugging Face account's owner id is
never kept there: each event derives it from the sign-in (gradio's signed session cookie), so the
page holds it exactly as long as the sign-in is valid, and signing out ends that browser's access
to the account's history; the browser's own id, and its own history, stay. An account's id that a
page of an earlier version stored is told apart on the server (components/jobs/owners.py) and opens
nothing for a page that is not signed in as that account.

The user's key never enters gradio state: it lives in the server-side ``KeyVault`` under the tab's
gradio session id (see components/guard/key_vault.py) and is dropped when the tab's session ends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import gradio as gr

from components.admission.spend import Caller
from components.config import Settings
from components.errors import InputError
from components.guard.addresses import client_address
from components.guard.key_vault import KeyVault
from components.jobs.owners import AccountOwners, new_browser_id
from components.secret import Secret

OWNER_STORAGE_KEY = "kling-edit-studio-owner"


def build(owner_secret: str) -> gr.BrowserState:
    """The browser's owner id (str); the page's only per-user identity besides its session."""
    return gr.BrowserState("", storage_key=OWNER_STORAGE_KEY, secret=owner_secret)


def ensure_owner(owner: object, profile: gr.OAuthProfile | None, accounts: AccountOwners) -> str:
    """What the page keeps when it loads: the stored id, or a fresh one for a first visit or when
    the stored one is not a browser's own (an account's, kept by a page of an earlier version, would
    outlive the sign-in). A signed-in load records its account first, so that account's id is
    replaced even when it has a browser id's form."""
    username = _username(profile)
    if username:
        accounts.signed_in(username)
    return accounts.page_owner(owner) or new_browser_id()


def resolve_owner(owner: object, profile: gr.OAuthProfile | None, accounts: AccountOwners) -> str | None:
    """The signed-in account's owner id, else the browser's own (never an account's: a page that is
    not signed in as an account does not act as it)."""
    username = _username(profile)
    return accounts.signed_in(username) if username else accounts.page_owner(owner)


def _username(profile: gr.OAuthProfile | None) -> str | None:
    """The signed-in user name as gradio hands it over (an OAuthProfile, or its dict), or None."""
    username = getattr(profile, "username", None) or (profile or {}).get("preferred_username")
    return username if isinstance(username, str) and username else None


def page_caller(owner: object, request: gr.Request | None, profile: gr.OAuthProfile | None,
                settings: Settings, accounts: AccountOwners) -> Caller:
    """Who a page event comes from; a page without an owner id (a script that skipped load, or a
    page that kept an account's id) is refused."""
    resolved = resolve_owner(owner, profile, accounts)
    if resolved is None:
        raise InputError("This page has no session yet.", fix="Reload the page and try again.")
    return Caller(resolved, address_of(request, settings), hf_user(profile))


def hf_user(profile: gr.OAuthProfile | None) -> str | None:
    """The signed-in Hugging Face user name, lower-cased (the allow-list's form), or None: read as
    the owner id is (``_username``), so the allow-list and the history agree on who is signed in."""
    username = _username(profile)
    return username.lower() if username else None


def address_of(request: gr.Request | None, settings: Settings) -> str:
    """The client's IP address, read through trusted proxies only (components/guard/addresses.py)."""
    if request is None:
        return "unknown"
    headers = {k.lower(): v for k, v in (getattr(request, "headers", None) or {}).items()}
    peer = getattr(getattr(request, "client", None), "host", None)
    return client_address(headers, peer, settings.trusted_proxies)


def api_owner(request: gr.Request | None) -> str:
    """API callers have no local storage: their gradio session is their identity."""
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex
    return f"api-{session}"


def session_id(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def user_key(vault: KeyVault, request: gr.Request | None) -> Secret | None:
    """The key this tab handed over, if any."""
    return vault.get(session_id(request))


@dataclass(frozen=True)
class Visitor:
    """Who a page event comes from, resolved one way by every handler: the owner id (a signed-in
    account's, else the browser's), the caller the service limits, and the tab's own fal key."""

    settings: Settings
    vault: KeyVault
    accounts: AccountOwners  # which owner ids are accounts': a page not signed in never acts as one

    def owner(self, owner: object, profile: gr.OAuthProfile | None) -> str | None:
        return resolve_owner(owner, profile, self.accounts)

    def keep(self, owner: object, profile: gr.OAuthProfile | None) -> str:
        """The id the page stores when it loads (``ensure_owner``)."""
        return ensure_owner(owner, profile, self.accounts)

    def caller(self, owner: object, request: gr.Request | None, profile: gr.OAuthProfile | None) -> Caller:
        return page_caller(owner, request, profile, self.settings, self.accounts)

    def key(self, request: gr.Request | None) -> Secret | None:
        return user_key(self.vault, request)
