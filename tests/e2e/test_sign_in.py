"""Sign-in as a Space with ``hf_oauth: true`` runs it: the app starts (requirements.txt installs
gradio's ``oauth`` extra, which its LoginButton and session middleware need), the allow-list
decides who spends the server's key, and signing out ends that browser's access to the account's
history.

The app is launched with a Space's environment (SYSTEM=spaces, SPACE_ID, OAUTH_CLIENT_ID/SECRET,
OAUTH_SCOPES, OPENID_PROVIDER_URL), so gradio attaches its real Hugging Face OAuth routes. A
signed-in browser holds the session cookie gradio's login callback writes, signed as Starlette's
SessionMiddleware signs it with the Space's OAuth secret (made here: the test plays Hugging Face's
side of the login); signing out is gradio's own ``/logout``. Events are sent as the page sends them
(tests/e2e/page_protocol.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from base64 import b64encode
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import itsdangerous
import pytest

from components.config import MODEL_ID
from components.guard.owner_secret import server_secret
from components.jobs.owners import account_owner, is_browser_id
from components.jobs.store import JobStore
from tests.e2e.app_server import AppServer, launch_later, prelaunched
from tests.e2e.page_protocol import Page, Tab, upload
from tests.fakes.fal_fixtures import running_fake_fal
from tests.mediagen import make_clip

SERVER_KEY = "server-key-id:space-owner-money-0123456"
OAUTH_SECRET = "space-oauth-secret-for-this-test"
SPACE = {"SYSTEM": "spaces", "SPACE_ID": "someone/kling-studio", "OAUTH_CLIENT_ID": "client-id",
         "OAUTH_CLIENT_SECRET": OAUTH_SECRET, "OAUTH_SCOPES": "openid profile",
         # Never reached: only a login started from the page would ask it, and the test signs in itself.
         "OPENID_PROVIDER_URL": "http://127.0.0.1:9", "STUDIO_ALLOWED_HF_USERS": "alice"}


def prelaunch(root: Path, stack: ExitStack) -> tuple[dict, tuple[AppServer, ...]]:
    fake = stack.enter_context(running_fake_fal(keys=(SERVER_KEY,), point_client=False))
    app = AppServer(root / "space", fal_key=SERVER_KEY, fake_fal_url=fake.url, env=SPACE)
    return {"fake": fake, "app": app}, launch_later(stack, app)


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> dict:
    setup = prelaunched(__name__)
    clip = make_clip(tmp_path_factory.mktemp("sign-in") / "clip.mp4", seconds=3.2, width=720, height=720,
                     fps=24, crf=45, source="color", audio=False)
    return {**setup, "clip": clip, "secret": server_secret(setup["app"].data_dir)}


def signed_in(username: str) -> dict[str, str]:
    """The cookie gradio's login callback leaves for ``username`` (gradio.oauth: the session is
    signed with sha256 of the OAuth secret + "-v4", by itsdangerous, as Starlette does)."""
    session = {"oauth_info": {"userinfo": {"preferred_username": username, "name": username.title(),
                                           "profile": f"https://huggingface.co/{username}", "picture": ""},
                              "access_token": "hf_oauth_token", "scope": "openid profile",
                              "expires_at": int(time.time()) + 3600}}
    key = hashlib.sha256(f"{OAUTH_SECRET}-v4".encode()).hexdigest()
    signed = itsdangerous.TimestampSigner(key).sign(b64encode(json.dumps(session).encode()))
    return {"session": signed.decode()}


def _run(space: dict, scenario):
    async def main():
        async with httpx.AsyncClient(base_url=space["app"].url, timeout=120, trust_env=False) as http:
            page = await Page.load(http)
            return await scenario(http, page)

    # A thread of its own: a browser test before this module may keep Playwright's loop running here.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, main()).result()


async def _generate(tab: Tab, page: Page, clip: dict, prompt: str) -> dict:
    """Generate, as the page sends it: the owner id, the clip, the instruction, Kling O1, one take."""
    done = await tab.call(page.event("generate", "click"), [tab.owner, clip, prompt, None, None, False,
                                                             MODEL_ID, 1, False, 0.0])
    assert done["success"], done
    return done


async def _history(tab: Tab, page: Page) -> str:
    listed = await tab.predict(page.event("↻ Refresh", "click", prop="value"), [tab.owner])
    return json.dumps(listed["data"])


def test_the_app_starts_with_sign_in_and_the_load_keeps_no_account_id(space):
    """The issue's finding: a Space with hf_oauth: true exited with an ImportError (gr.LoginButton
    needs gradio's oauth extra). And a page must keep its browser's own id, never the account's."""
    alice = account_owner("alice", space["secret"])

    async def scenario(http: httpx.AsyncClient, page: Page):
        load = page.page_load(page.component("browserstate"))
        tab = Tab(http)
        http.cookies.update(signed_in("alice"))
        fresh = (await tab.predict(load, [""]))["data"][0]
        kept = (await tab.predict(load, [tab.owner]))["data"][0]
        legacy = (await tab.predict(load, [alice]))["data"][0]  # what a page of the last version kept
        return fresh, kept, legacy

    fresh, kept, legacy = _run(space, scenario)
    assert "login/huggingface" in httpx.get(space["app"].url + "config", timeout=30).text  # the button
    assert is_browser_id(fresh) and fresh != alice
    assert is_browser_id(legacy) and legacy != alice
    assert is_browser_id(kept) and kept != alice


def test_not_on_the_list_means_no_server_key(space):
    fake, store = space["fake"], JobStore(space["app"].data_dir / "jobs.sqlite3")

    async def scenario(http: httpx.AsyncClient, page: Page):
        clip = await upload(http, space["clip"])
        http.cookies.update(signed_in("bob"))
        await _generate(Tab(http), page, clip, "Make it black and white")
        submits = fake.submits
        http.cookies.update(signed_in("alice"))
        await _generate(Tab(http), page, clip, "Make it sepia")
        return submits

    submits_for_bob = _run(space, scenario)
    [bobs] = store.list_for_owner(account_owner("bob", space["secret"]))
    assert bobs.engine == "local" and bobs.key_source is None  # the local preview, not the owner's key
    alices = _submitted(store, account_owner("alice", space["secret"]))
    assert alices.engine == "fal" and alices.key_source == "server"
    assert submits_for_bob == 0 and fake.submits == 1


def _submitted(store: JobStore, owner: str, timeout: float = 60.0):
    """``owner``'s newest job once fal gave it a request id (the runner submits after Generate answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = store.list_for_owner(owner)
        if jobs and jobs[0].request_id:
            return jobs[0]
        time.sleep(0.1)
    raise AssertionError(f"no job of {owner} was submitted to fal within {timeout:g} s")


def test_signing_out_ends_the_browsers_access_to_the_accounts_history(space):
    async def scenario(http: httpx.AsyncClient, page: Page):
        clip = await upload(http, space["clip"])
        load = page.page_load(page.component("browserstate"))
        tab = Tab(http)  # one browser: what its storage holds is what its load event wrote
        http.cookies.update(signed_in("carol"))
        tab.owner = (await tab.predict(load, [""]))["data"][0]
        await _generate(tab, page, clip, "Make it look like an old film")
        signed_in_history = await _history(tab, page)
        answer = await http.get("logout", follow_redirects=False)
        out = answer.headers["set-cookie"]
        http.cookies.clear()  # the browser applies the answer: the session cookie is gone
        tab.owner = (await tab.predict(load, [tab.owner]))["data"][0]  # and loads the page again
        return signed_in_history, out, await _history(tab, page)

    before, cleared, after = _run(space, scenario)
    assert "old film" in before
    assert cleared.startswith("session=null") and "expires=Thu, 01 Jan 1970" in cleared
    assert "old film" not in after
