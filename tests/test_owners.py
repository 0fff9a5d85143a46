"""A page that is not signed in never acts as a signed-in account's owner id.

The issue's finding, as it stood after the first fix: a page of an earlier version stored the
account's owner id in the browser's storage. The current page never does, and replaces such an id
when it loads signed in; but a browser that signed out under the earlier version and loads this one
signed out still held the id, and that id alone read the account's history (prompts, job ids).

Driven through gradio's queue on the studio's real app, as the page calls it, with jobs the test
records for two accounts: one whose id has a browser id's form by chance (so only the server's record
of accounts tells it apart) and one whose id does not.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import gradio as gr

from components.edit.request import EditRequest
from components.guard.owner_secret import server_secret
from components.jobs.owners import AccountOwners, account_owner, is_browser_id
from components.jobs.store import JobStore
from components.ui.session import ensure_owner, resolve_owner
from tests.inprocess import call, running_studio

SECRET = "a-server-secret-of-this-test"


def _browser_shaped(owner: str) -> bool:
    """What ``uuid.uuid4().hex``, a browser's id, always is: version 4, the RFC 4122 variant."""
    made = uuid.UUID(hex=owner)
    return made.version == 4 and made.variant == uuid.RFC_4122


def _account(secret: str, *, browser_shaped: bool) -> tuple[str, str]:
    """(user name, owner id) of an account whose id has, or has not, a browser id's form (about one
    account in 64 has it)."""
    for n in range(10_000):
        name = f"user-{n}"
        owner = account_owner(name, secret)
        if _browser_shaped(owner) == browser_shaped:
            return name, owner
    raise AssertionError("no such account among 10,000 names")


def _history(url: str, fn_index: int, owner: str) -> str:
    done = call(url, fn_index, [owner])
    assert done["success"], done
    return json.dumps(done["output"]["data"])


def test_a_page_signed_out_under_an_earlier_version_reads_no_accounts_history(tmp_path: Path):
    secret = server_secret(tmp_path / "data")  # the app's data folder (tests/inprocess.py), made first
    listed, listed_id = _account(secret, browser_shaped=True)  # on the allow-list: known at start
    other, other_id = _account(secret, browser_shaped=False)  # never signs in after the upgrade
    browser = uuid.uuid4().hex
    prompts = {listed_id: "Listed account's private prompt", other_id: "Other account's private prompt",
               browser: "The browser's own prompt"}
    with running_studio(tmp_path, allowed_hf_users=(listed,)) as studio:
        store = studio.studio.store
        for owner, prompt in prompts.items():
            job = store.create(owner, EditRequest(prompt, tmp_path / "clip.mp4"), "local", None)
            store.update(job.id, status="succeeded", finished_at=time.time())
        history, [load] = studio.fn_index("history")[0], studio.fn_index("ensure_owner")
        seen = {owner: _history(studio.url, history, owner) for owner in prompts}
        kept = {owner: call(studio.url, load, [owner])["output"]["data"][0] for owner in prompts}
    assert prompts[browser] in seen[browser] and kept[browser] == browser  # a browser's own id works
    for account, name in ((listed_id, listed), (other_id, other)):  # a signed-out page holding its id
        assert prompts[account] not in seen[account], f"the history of {name}"
        assert kept[account] != account and _browser_shaped(kept[account])  # the page gets its own id


def _profile(username: str) -> gr.OAuthProfile:
    """What gradio hands an event of a page signed in as ``username``."""
    return gr.OAuthProfile({"preferred_username": username, "name": username.title(),
                            "profile": f"https://huggingface.co/{username}", "picture": ""})


def test_an_account_that_signs_in_once_is_known_after_a_restart(tmp_path: Path):
    """The one account in 64 whose id has a browser id's form: told apart by the record that a
    signed-in event writes, which the next process reads."""
    name, account = _account(SECRET, browser_shaped=True)
    browser = uuid.uuid4().hex
    accounts = AccountOwners(JobStore(tmp_path / "jobs.sqlite3"), SECRET)
    assert resolve_owner(browser, _profile(name), accounts) == account  # signed in: the account's history
    assert resolve_owner(account, None, accounts) is None  # signed out, the same id: nothing
    restarted = AccountOwners(JobStore(tmp_path / "jobs.sqlite3"), SECRET)
    assert resolve_owner(account, None, restarted) is None
    assert resolve_owner(browser, None, restarted) == browser  # the browser keeps its own history


def test_a_signed_in_load_replaces_the_accounts_id_the_page_kept(tmp_path: Path):
    """A page of an earlier version, still signed in, loads with the account's id in its storage:
    it stores an id of its own, even when the account was never seen before and its id has a
    browser id's form."""
    name, account = _account(SECRET, browser_shaped=True)
    accounts = AccountOwners(JobStore(tmp_path / "jobs.sqlite3"), SECRET)
    kept = ensure_owner(account, _profile(name), accounts)
    assert kept != account and is_browser_id(kept)
    assert ensure_owner(kept, _profile(name), accounts) == kept  # the browser's own id stays


def test_only_a_browser_ids_form_names_a_pages_history():
    """Whatever else a script sends as the stored id (or an account's id, 63 in 64 by form alone)
    opens no history."""
    _, account = _account(SECRET, browser_shaped=False)
    browser = uuid.uuid4().hex
    assert is_browser_id(browser)
    crafted = (browser.upper(), browser[:31], browser + "0", "../" + browser[3:], None, 12, [browser])
    for value in (account, *crafted):
        assert not is_browser_id(value), value
