"""Whose history an owner id opens: a browser's own, or a signed-in Hugging Face account's.

Both kinds are 32 hex characters and key the job store's rows alike, but only a browser's own id
may come from the page (its local storage). An account's id is derived from the sign-in on every
event, so a page holds it exactly as long as the sign-in is valid. A page of an earlier version
stored the account's id in the browser, though, and a browser that signed out under that version
still sends it; here the server tells the two kinds apart, so that id opens nothing:

- by form: a browser's id is ``uuid.uuid4().hex`` (version 4, RFC 4122 variant), an account's an
  HMAC, which has that form by chance once in 64 accounts;
- by record, for those: every account id a signed-in event derives is recorded in the
  ``account_owners`` table of the job store's SQLite file, and, at start, the allow-listed users'.

What is left: an account whose id has a browser id's form, that is not on the allow-list and never
signs in after the upgrade, is not known, so a browser that kept its id from an earlier version
still reads its history. No stored data names the account behind an id to find it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterable

from components.jobs.store import JobStore

_HEX = frozenset("0123456789abcdef")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS account_owners (
    owner TEXT PRIMARY KEY,
    recorded_at REAL NOT NULL
);
"""


def new_browser_id() -> str:
    """A browser's own owner id: random, so nobody else can name its history."""
    return uuid.uuid4().hex


def is_browser_id(owner: object) -> bool:
    """Whether ``owner`` has the form of an id ``new_browser_id`` made. Anything else a page sends
    (a crafted value, or an account's id a page of an earlier version kept) names no history."""
    if not (isinstance(owner, str) and len(owner) == 32 and set(owner) <= _HEX):
        return False
    made = uuid.UUID(hex=owner)
    return made.version == 4 and made.variant == uuid.RFC_4122


def account_owner(username: str, server_secret: str) -> str:
    """The owner id of a Hugging Face account: the same in every browser, so history follows the
    account, and keyed with the server's private secret, so nobody can compute it."""
    return hmac.new(server_secret.encode(), f"hf:{username.lower()}".encode(),
                    hashlib.sha256).hexdigest()[:32]


class AccountOwners:
    """The account ids the server knows, in the job store's file and, for the events that ask on
    every tick, in memory: this process is the table's only writer."""

    def __init__(self, store: JobStore, server_secret: str, allowed_users: Iterable[str] = ()) -> None:
        self._connect = store.connection
        self._secret = server_secret
        self._connect().executescript(_SCHEMA)
        self._known = {row[0] for row in self._connect().execute("SELECT owner FROM account_owners")}
        for username in allowed_users:  # the accounts that may spend the server key: known from the start
            self.signed_in(username)

    def signed_in(self, username: str) -> str:
        """The owner id of the account a signed-in event comes from, recorded as an account's."""
        owner = account_owner(username, self._secret)
        if owner not in self._known:  # one write per account and process, not one per event
            self._connect().execute("INSERT OR IGNORE INTO account_owners (owner, recorded_at) VALUES (?, ?)",
                                    (owner, time.time()))
            self._known.add(owner)
        return owner

    def page_owner(self, owner: object) -> str | None:
        """The id a page that is not signed in acts as: its browser's own, never a known account's."""
        return owner if is_browser_id(owner) and owner not in self._known else None
